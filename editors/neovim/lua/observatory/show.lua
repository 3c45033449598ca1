---@mod observatory.show Documents the server writes (conversations, lists, diffs,
--- search pages), opened in a split beside the source, never over it.

local M = {}

---@type table<string, true> directories the server writes its documents to
local dirs = {}

--- Remembers `dir` as a directory of Observatory documents.
---@param dir string?
function M.add_dir(dir)
  if not dir or dirs[dir] then return end
  dirs[dir] = true
  vim.filetype.add({ pattern = { [vim.pesc(dir) .. '/.*%.md'] = 'observatory' } })
end

--- Whether `path` is one of Observatory's own documents.
---@param path string
function M.is_document(path)
  for dir in pairs(dirs) do
    if vim.startswith(path, dir .. '/') then return true end
  end
  return false
end

--- A window of the current tab showing `bufnr`, if any.
---@param bufnr integer
---@return integer?
local function window_of(bufnr)
  for _, w in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    if vim.api.nvim_win_get_buf(w) == bufnr then return w end
  end
end

--- A window already showing an Observatory document, to reuse.
---@return integer?
local function document_window()
  for _, w in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    if M.is_document(vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(w))) then return w end
  end
end

--- Opens `path` in a split (or the window already showing a document) at `line` (0-based).
---@param path string
---@param line? integer
---@param split? "split"|"vsplit"|"tab"
---@return integer bufnr
function M.open(path, line, split)
  M.add_dir(vim.fs.dirname(path))
  local bufnr = vim.fn.bufadd(path)
  local win = window_of(bufnr) or document_window()
  if win then
    vim.api.nvim_set_current_win(win)
  elseif split == 'tab' then
    vim.cmd('tab split')
  else
    vim.cmd((split == 'split' and 'belowright split') or 'belowright vsplit')
  end
  -- The server rewrites the file each time: read it again (a document is not
  -- modifiable, and reading it counts as a change).
  if vim.api.nvim_buf_is_loaded(bufnr) then vim.bo[bufnr].modifiable = true end
  vim.cmd('silent edit! ' .. vim.fn.fnameescape(path))
  bufnr = vim.api.nvim_get_current_buf()
  vim.bo[bufnr].readonly = true
  vim.bo[bufnr].modifiable = false
  -- Markdown escapes (`\[`, `\<`) in recorded text read as the character alone
  -- (matches belong to the window, which may show documents one after another).
  if not vim.w.observatory_escapes then
    vim.w.observatory_escapes = vim.fn.matchadd('Conceal', [=[\\\ze[][\\`*_{}()#+.!|<>~-]]=], 10, -1, { conceal = '' })
  end
  vim.bo[bufnr].bufhidden = 'hide'
  local last = vim.api.nvim_buf_line_count(bufnr)
  pcall(vim.api.nvim_win_set_cursor, 0, { math.min((line or 0) + 1, last), 0 })
  if line and line > 0 then vim.cmd('normal! zt') end
  return bufnr
end

--- `window/showDocument`: external URIs go to the system handler, files to a split.
---@param split "split"|"vsplit"|"tab"
---@return lsp.Handler
function M.handler(split)
  ---@param result lsp.ShowDocumentParams
  return function(_, result)
    if result.external then
      vim.ui.open(result.uri)
      return { success = true }
    end
    local origin = vim.api.nvim_get_current_win()
    local line = result.selection and result.selection.start.line or 0
    local ok, err = pcall(M.open, vim.uri_to_fname(result.uri), line, split)
    if not ok then
      vim.notify('Observatory: ' .. tostring(err), vim.log.levels.ERROR)
      return { success = false }
    end
    if result.takeFocus == false and vim.api.nvim_win_is_valid(origin) then
      vim.api.nvim_set_current_win(origin)
    end
    return { success = true }
  end
end

return M
