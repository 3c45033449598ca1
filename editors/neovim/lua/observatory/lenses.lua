---@mod observatory.lenses Lenses drawn above the line they are about, as VS Code (and
--- Neovim 0.12) draw them.
---
--- Neovim 0.11 draws every lens at the end of its line, where the current line's
--- annotation goes too: with the cursor on a function's first line, the two ran
--- together and off the screen. Fetching, resolving and `vim.lsp.codelens.run()`
--- stay Neovim's; only the drawing of this server's lenses changes.

local M = {}

---@type "above"|"eol"
M.position = 'above'

--- The display width of a line's indentation, so that a lens lines up with the code.
---@param bufnr integer
---@param row integer 0-based
---@return integer
local function indent(bufnr, row)
  return vim.api.nvim_buf_call(bufnr, function() return vim.fn.indent(row + 1) end)
end

--- Draws one client's lenses in its namespace: above their line, indented like it,
--- except on the first line (the file's summary), which stays at the end of it:
--- nothing drawn above a buffer's first line shows while the window starts there.
---@param lenses lsp.CodeLens[]?
---@param bufnr integer
---@param ns integer
function M.draw(lenses, bufnr, ns)
  vim.api.nvim_buf_clear_namespace(bufnr, ns, 0, -1)
  ---@type table<integer, string[]>
  local by_row = {}
  for _, lens in ipairs(lenses or {}) do
    local row = lens.range.start.line
    local title = lens.command and lens.command.title
    if title then
      by_row[row] = by_row[row] or {}
      table.insert(by_row[row], (title:gsub('%s+', ' ')))
    end
  end
  local rows = vim.api.nvim_buf_line_count(bufnr)
  for row, titles in pairs(by_row) do
    if row < rows then
      local text = table.concat(titles, ' | ')
      if row == 0 then
        vim.api.nvim_buf_set_extmark(bufnr, ns, row, 0, {
          virt_text = { { text, 'LspCodeLens' } },
          hl_mode = 'combine',
        })
      else
        vim.api.nvim_buf_set_extmark(bufnr, ns, row, 0, {
          virt_lines = { { { string.rep(' ', indent(bufnr, row)) .. text, 'LspCodeLens' } } },
          virt_lines_above = true,
        })
      end
    end
  end
end

local installed = false

--- Has Neovim 0.11 draw this server's lenses with `M.draw`; other servers' lenses
--- are drawn as before. Neovim 0.12 draws lenses above their lines itself.
function M.install()
  if installed or vim.fn.has('nvim-0.12') == 1 then return end
  installed = true
  local codelens = vim.lsp.codelens
  local builtin = codelens.display
  ---@diagnostic disable-next-line: duplicate-set-field
  codelens.display = function(lenses, bufnr, client_id)
    local client = vim.lsp.get_client_by_id(client_id)
    if M.position ~= 'above' or not (client and client.name == 'observatory' and vim.api.nvim_buf_is_loaded(bufnr)) then
      return builtin(lenses, bufnr, client_id)
    end
    M.draw(lenses, bufnr, codelens.__namespaces[client_id])
  end
end

return M
