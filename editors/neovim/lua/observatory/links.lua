---@mod observatory.links `command:` links (hover Markdown) and session ids
--- (Observatory documents) under the cursor, run as server commands.

local client = require('observatory.client')

local M = {}

--- Decodes `command:name?<percent-encoded JSON array>` into an LSP command. Only
--- opening a conversation: that is the one link the server writes, so any other in a
--- document came from a transcript's own text and is not run.
---@param url string
---@return lsp.Command?
function M.parse(url)
  local name, query = url:match('^command:([%w%._%-]+)%??(.*)$')
  if name ~= 'observatory.openConversation' then return nil end
  local args = {}
  if query ~= '' then
    local ok, decoded = pcall(vim.json.decode, vim.uri_decode(query))
    if not ok or type(decoded) ~= 'table' then return nil end
    args = vim.islist(decoded) and decoded or { decoded }
  end
  return { title = name, command = name, arguments = args }
end

--- The `command:` link on `line` at byte `col` (0-based), else the first on the line.
---@param line string
---@param col integer
---@return lsp.Command?
function M.at(line, col)
  local first ---@type lsp.Command?
  local init = 1
  while true do
    local s, e, url = line:find('%[[^%]]*%]%((command:[^)%s]+)%)', init)
    if not s then break end
    local cmd = M.parse(url)
    first = first or cmd
    if cmd and col + 1 >= s and col + 1 <= e then return cmd end
    init = e + 1
  end
  if first then return first end
  -- A bare session id (lists, search pages): open that conversation.
  local id = line:match('%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x')
  if id then
    return { title = 'open', command = 'observatory.openConversation', arguments = { id } }
  end
end

--- Runs the link (or session id) under the cursor. Returns false when there is none.
---@return boolean
function M.follow()
  local pos = vim.api.nvim_win_get_cursor(0)
  local line = vim.api.nvim_get_current_line()
  local cmd = M.at(line, pos[2])
  if not cmd then return false end
  -- From a hover float, go back to the source window first so documents open beside it.
  local c = client.require(vim.w.lsp_floating_bufnr)
  if not c then return true end
  if vim.api.nvim_win_get_config(0).relative ~= '' then vim.api.nvim_win_close(0, true) end
  client.run(c, cmd)
  return true
end

--- Buffer-local <CR> and gx: follow an Observatory link, else do what they did.
---@param bufnr integer
function M.map(bufnr)
  for _, lhs in ipairs({ '<CR>', 'gx' }) do
    vim.keymap.set('n', lhs, function()
      if not M.follow() then
        vim.api.nvim_feedkeys(vim.keycode(lhs), 'n', false)
      end
    end, { buffer = bufnr, desc = 'Observatory: follow the link under the cursor' })
  end
end

--- Maps the links in hover floats that show Observatory links.
---@return integer augroup
function M.watch_hovers()
  local group = vim.api.nvim_create_augroup('observatory.hover', { clear = true })
  vim.api.nvim_create_autocmd('FileType', {
    group = group,
    pattern = 'markdown',
    callback = function(ev)
      if vim.bo[ev.buf].buftype ~= 'nofile' then return end
      for _, l in ipairs(vim.api.nvim_buf_get_lines(ev.buf, 0, -1, false)) do
        if l:find('(command:observatory.', 1, true) then
          M.map(ev.buf)
          return
        end
      end
    end,
  })
  return group
end

return M
