---@mod observatory.attach What a buffer gets when the server attaches: lenses that
--- refresh by themselves, inlay hints, and the cursor line sent to the server.

local M = {}

---@class observatory.BufferState
---@field timer uv.uv_timer_t?
---@field augroup integer

---@type table<integer, observatory.BufferState>
local buffers = {}

--- Fetches the lenses again (Neovim 0.11 does not support workspace/codeLens/refresh).
---@param bufnr integer
function M.refresh_lenses(bufnr)
  if vim.api.nvim_buf_is_loaded(bufnr) then vim.lsp.codelens.refresh({ bufnr = bufnr }) end
end

---@param client vim.lsp.Client
---@param bufnr integer
local function send_cursor(client, bufnr)
  if client:is_stopped() or vim.api.nvim_get_current_buf() ~= bufnr then return end
  local pos = vim.api.nvim_win_get_cursor(0)
  client:notify('observatory/didChangeCursor', {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    position = { line = pos[1] - 1, character = 0 },
  })
end

---@param bufnr integer
function M.detach(bufnr)
  local s = buffers[bufnr]
  if not s then return end
  if s.timer then
    s.timer:stop()
    s.timer:close()
  end
  pcall(vim.api.nvim_del_augroup_by_id, s.augroup)
  buffers[bufnr] = nil
end

--- Called from LspAttach for the Observatory client.
---@param client vim.lsp.Client
---@param bufnr integer
---@param opts observatory.Options
function M.attach(client, bufnr, opts)
  M.detach(bufnr)
  local group = vim.api.nvim_create_augroup('observatory.buffer.' .. bufnr, { clear = true })
  local state = { augroup = group } ---@type observatory.BufferState
  buffers[bufnr] = state

  if opts.codeLens then
    M.refresh_lenses(bufnr)
    vim.api.nvim_create_autocmd({ 'BufWritePost', 'BufEnter' }, {
      group = group,
      buffer = bufnr,
      callback = function() M.refresh_lenses(bufnr) end,
    })
  end

  if opts.inlayHints ~= 'off' then
    vim.lsp.inlay_hint.enable(true, { bufnr = bufnr })
  end

  if opts.inlayHints == 'currentLine' then
    local timer = assert(vim.uv.new_timer())
    state.timer = timer
    vim.api.nvim_create_autocmd({ 'CursorMoved', 'CursorMovedI', 'BufEnter' }, {
      group = group,
      buffer = bufnr,
      callback = function()
        timer:stop()
        timer:start(opts.cursor_debounce_ms, 0, vim.schedule_wrap(function() send_cursor(client, bufnr) end))
      end,
    })
    send_cursor(client, bufnr)
  end

  vim.api.nvim_create_autocmd('BufWipeout', {
    group = group,
    buffer = bufnr,
    callback = function() M.detach(bufnr) end,
  })
end

return M
