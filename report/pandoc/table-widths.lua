-- Pipe tables with long rows get column widths from their separator dashes, which squeezes
-- numbers and wraps names; the report's tables size each column by its content instead.
function Table(tbl)
  for i, spec in ipairs(tbl.colspecs) do
    tbl.colspecs[i] = { spec[1], pandoc.ColWidthDefault }
  end
  return tbl
end
