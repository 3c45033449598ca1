---@mod observatory.health `:checkhealth observatory`

local M = {}

function M.check()
  local h = vim.health
  h.start('observatory: Neovim')
  if vim.fn.has('nvim-0.11') == 1 then
    h.ok('Neovim ' .. tostring(vim.version()))
  else
    h.error('Neovim 0.11 or later is needed (vim.lsp.config / vim.lsp.enable)')
  end

  h.start('observatory: setup')
  local o = require('observatory').options()
  if not o then
    h.warn('require("observatory").setup{} has not been called', { 'Call it in your init.lua, or use lazy.nvim `opts = {}`' })
    o = require('observatory.config').resolve()
  else
    h.ok('setup{} called; inlayHints = ' .. o.inlayHints .. ', codeLens = ' .. tostring(o.codeLens))
  end

  h.start('observatory: binary')
  local cmd = require('observatory.config').cmd(o)
  local exe = vim.fn.exepath(cmd[1])
  if exe == '' then
    h.error(cmd[1] .. ' not found', { 'Install Observatory (cargo install --path server/cli) or set `binary`' })
  else
    local r = vim.system({ exe, '--version' }, { text = true }):wait(5000)
    if r.code == 0 then
      h.ok(exe .. ': ' .. vim.trim(r.stdout or ''))
    else
      h.error(exe .. ' --version failed: ' .. vim.trim(r.stderr or ''))
    end
  end

  h.start('observatory: server')
  local client = require('observatory.client').get()
  if not client then
    h.warn('no observatory client is running', { 'Open a source file in a workspace' })
    return
  end
  local attached = vim.tbl_keys(client.attached_buffers or {})
  local names = vim.tbl_map(function(b) return vim.fn.fnamemodify(vim.api.nvim_buf_get_name(b), ':~:.') end, attached)
  h.ok(('client %d running in %s, attached to %d buffer(s): %s'):format(client.id, client.root_dir or '?',
    #attached, table.concat(names, ', ')))
  local proto = vim.tbl_get(client.server_capabilities or {}, 'experimental', 'observatory', 'protocolVersion')
  if proto == 1 then
    h.ok('protocol version 1')
  else
    h.warn('server protocol version ' .. tostring(proto) .. ' (this plugin speaks 1)')
  end

  h.start('observatory: platform')
  local res, err = client:request_sync('observatory/status', {}, 5000)
  if not res or res.err then
    h.error('observatory/status failed: ' .. tostring(err or (res and res.err and res.err.message)))
    return
  end
  local s = res.result or {}
  local line = require('observatory').format_status(s)
  if s.state == 'connected' then
    h.ok(line)
  elseif s.state == 'connecting' then
    h.info(line)
  else
    h.error(line, s.reason == 'apiKeyRequired' and { 'Set `apiKey` (observatory keys create)' } or nil)
  end
end

return M
