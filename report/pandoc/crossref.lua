-- Quarto-style cross-references for the pandoc route: figures (#fig-), tables (#tbl-) and
-- sections (#sec-) are numbered in document order, their captions prefixed, and @fig-x,
-- @tbl-x, @sec-x become links reading "Figure 2", "Table 3", "Section 1.2" (or "Appendix A",
-- the label appendix.lua gave the header).
local labels = {}
local kinds = { fig = "Figure", tbl = "Table" }
local counts = { fig = 0, tbl = 0 }
local sections = {}

local function prefix_of(id)
  return id:match("^(%a+)%-")
end

local function number_caption(element)
  local kind = prefix_of(element.identifier)
  if not kinds[kind] then return nil end
  counts[kind] = counts[kind] + 1
  local label = kinds[kind] .. " " .. counts[kind]
  labels[element.identifier] = label
  local long = element.caption.long
  local lead = pandoc.Inlines({ pandoc.Strong(label .. ":"), pandoc.Space() })
  if #long > 0 and long[1].t == "Plain" or long[1] and long[1].t == "Para" then
    long[1].content = lead .. long[1].content
  else
    long:insert(1, pandoc.Plain(lead))
  end
  element.caption.long = long
  return element
end

local function number_section(header)
  if header.attributes["label"] and prefix_of(header.identifier) == "sec" then
    labels[header.identifier] = header.attributes["label"]  -- an appendix, lettered by appendix.lua
  end
  if header.classes:includes("unnumbered") then return nil end
  sections[header.level] = (sections[header.level] or 0) + 1
  for level = header.level + 1, 6 do sections[level] = nil end
  local parts = {}
  for level = 1, header.level do parts[#parts + 1] = tostring(sections[level] or 0) end
  if prefix_of(header.identifier) == "sec" then
    labels[header.identifier] = "Section " .. table.concat(parts, ".")
  end
end

local function resolve(cite)
  local links = {}
  for _, citation in ipairs(cite.citations) do
    local label = labels[citation.id]
    if not label then return nil end
    links[#links + 1] = pandoc.Link(label, "#" .. citation.id)
  end
  local out = pandoc.Inlines({})
  for i, link in ipairs(links) do
    if i > 1 then out:extend({ pandoc.Str(","), pandoc.Space() }) end
    out:insert(link)
  end
  return out
end

function Pandoc(doc)
  doc = doc:walk({ traverse = "topdown", Figure = number_caption, Table = number_caption, Header = number_section })
  return doc:walk({ Cite = resolve })
end
