-- Lettered appendices, on both routes: every level-1 section from the first one with the class
-- `appendix` on is "Appendix A: …", "Appendix B: …", its subsections "A.1 …"; they leave the
-- section numbering, and their cross-reference label ("Appendix A", "Appendix A.1") is kept in
-- the header's `label` attribute for crossref.lua. The PDF starts the appendices on a new page.
local letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

function Pandoc(doc)
  local letter, sub = 0, 0
  local blocks = pandoc.Blocks({})
  for _, block in ipairs(doc.blocks) do
    if block.t == "Header" and (letter > 0 or block.classes:includes("appendix")) then
      local prefix
      if block.level == 1 then
        letter, sub = letter + 1, 0
        prefix = letters:sub(letter, letter)
        block.attributes["label"] = "Appendix " .. prefix
        block.content = pandoc.Inlines({ pandoc.Str("Appendix " .. prefix .. ":"), pandoc.Space() }) .. block.content
        if letter == 1 and FORMAT:match("typst") then
          blocks:insert(pandoc.RawBlock("typst", "#pagebreak()"))
        end
      elseif block.level == 2 then
        sub = sub + 1
        prefix = letters:sub(letter, letter) .. "." .. sub
        block.attributes["label"] = "Appendix " .. prefix
        block.content = pandoc.Inlines({ pandoc.Str(prefix), pandoc.Space() }) .. block.content
      end
      block.classes:insert("unnumbered")
      if not block.classes:includes("appendix") then block.classes:insert("appendix") end
    end
    blocks:insert(block)
  end
  doc.blocks = blocks
  return doc
end
