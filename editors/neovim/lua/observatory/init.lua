---@mod observatory Observatory for Neovim: which agent conversation wrote each line.
---
--- A thin client of `observatory lsp`: the server computes everything; this plugin
--- configures Neovim's built-in client (0.11+), refreshes lenses, sends the cursor
--- line, opens the documents the server writes in a split, and copies prompts and
--- resumes conversations (which a language server cannot do on its own).

local config = require('observatory.config')

local M = {}

---@type observatory.Options?
local options

---@type table<integer, table> the last `observatory/status` of each client
local statuses = {}

---@type integer?
local augroup

---@type table<integer, integer> how far each client's platform is in its first indexing
--- pass (percent), from the server's work done progress
local indexing = {}

--- One line for a ConnectionStatus.
---@param s table?
---@param percent? integer how far the platform's first indexing pass is
---@return string
function M.format_status(s, percent)
  if not s then return 'Observatory: not running' end
  local parts = { 'Observatory: ' .. (s.state or '?') }
  if s.url then table.insert(parts, s.url) end
  if s.source then table.insert(parts, '(' .. s.source .. ')') end
  if s.indexing then table.insert(parts, '— indexing transcripts' .. (percent and (', ' .. percent .. '%') or '')) end
  if s.message then table.insert(parts, '— ' .. s.message) end
  return table.concat(parts, ' ')
end

--- How far the platform's first indexing pass is (percent), while it runs.
---@param client_id integer
---@return integer?
function M.indexing_progress(client_id)
  return indexing[client_id]
end

--- The last status the server sent, for a statusline: `connected`, `offline`…
---@param bufnr? integer
---@return string? state
---@return table? status
function M.status(bufnr)
  local c = require('observatory.client').get(bufnr)
  local s = c and statuses[c.id]
  return s and s.state, s
end

--- A statusline component, always a string (a `%{}` item shows `v:null` for nil):
--- empty in a buffer without the server, `observatory: starting` until its first
--- status, then the state, with the first indexing pass's percentage while it runs.
---@param bufnr? integer
---@return string
function M.statusline(bufnr)
  local c = vim.lsp.get_clients({ name = require('observatory.client').name, bufnr = bufnr or 0 })[1]
  if not c then return '' end
  local s = statuses[c.id]
  if not s then return 'observatory: starting' end
  local line = 'observatory: ' .. (s.state or '?')
  local percent = indexing[c.id]
  if s.indexing or percent then line = line .. ', indexing' .. (percent and (' ' .. percent .. '%') or '') end
  return line
end

--- The options in use (nil before setup).
---@return observatory.Options?
function M.options()
  return options
end

--- When each message was last shown: one server runs per project root, and an
--- outage of the platform they share is told by each of them.
---@type table<string, number>
local told = {}

--- Shows `message` unless the same was shown in the last 30 s.
---@param message string
---@return boolean shown
local function tell_once(message)
  local now = vim.uv.now()
  if told[message] and now - told[message] < 30000 then return false end
  told[message] = now
  return true
end

--- Whether `vim.notify` is Neovim's own, which echoes: a message longer than the
--- command line then stops the editor at a hit-enter prompt (a plugin's shows it whole).
---@return boolean
local function notify_echoes()
  local info = debug.getinfo(vim.notify, 'S')
  return info ~= nil and info.source:find('vim/_editor.lua', 1, true) ~= nil
end

--- `message` on one line of at most `width` columns, cut with an ellipsis.
---@param message string
---@param width integer
---@return string
function M.fit(message, width)
  local line = vim.trim((message:gsub('%s+', ' ')))
  if vim.fn.strdisplaywidth(line) <= width then return line end
  local n = width - 1
  local cut = vim.fn.strcharpart(line, 0, n)
  while n > 1 and vim.fn.strdisplaywidth(cut) > width - 1 do
    n = n - 1
    cut = vim.fn.strcharpart(line, 0, n)
  end
  return cut .. '…'
end

local levels = { vim.log.levels.ERROR, vim.log.levels.WARN, vim.log.levels.INFO, vim.log.levels.DEBUG }

--- `window/showMessage`, through `vim.notify`: once across the servers of several
--- roots, and on one line when it is echoed (the whole of it is in `:Observatory
--- status`). Neovim's own handler ends it with a newline, so every message, short or
--- long, stopped a starting editor at a hit-enter prompt.
---@param params lsp.ShowMessageParams?
local function show_message(_, params)
  if not (params and params.message) or not tell_once(params.message) then return end
  local message = params.message
  if notify_echoes() then message = M.fit(message, math.max(vim.v.echospace, 40)) end
  vim.notify(message, levels[params.type] or vim.log.levels.INFO)
end

---@param o observatory.Options
---@return vim.lsp.Config
local function lsp_config(o)
  local show = require('observatory.show')
  local attach = require('observatory.attach')
  local settings = config.server_settings(o)
  return {
    cmd = config.cmd(o),
    filetypes = o.filetypes,
    root_markers = o.root_markers,
    ---@param bufnr integer
    ---@param on_dir fun(dir: string)
    root_dir = function(bufnr, on_dir)
      local name = vim.api.nvim_buf_get_name(bufnr)
      -- Observatory's own documents never start (or join) a server.
      if name == '' or show.is_document(name) then return end
      on_dir(vim.fs.root(bufnr, o.root_markers) or vim.fs.dirname(name))
    end,
    init_options = settings,
    settings = { observatory = settings },
    commands = require('observatory.actions').commands,
    handlers = {
      ['window/showDocument'] = show.handler(o.split),
      ['observatory/didChangeInsights'] = function(_, params)
        local bufnr = vim.uri_to_bufnr(params.uri)
        if o.codeLens and vim.api.nvim_buf_is_loaded(bufnr) then attach.refresh_lenses(bufnr) end
      end,
      ['window/showMessage'] = show_message,
      ['observatory/status'] = function(_, params, ctx)
        local before = statuses[ctx.client_id]
        if before and before.state == 'offline' and params.state == 'connected'
            and tell_once('connected again ' .. (params.url or '')) then
          vim.notify(('Observatory: connected again%s'):format(params.url and (' to ' .. params.url) or ''),
            vim.log.levels.INFO)
        end
        statuses[ctx.client_id] = params
        vim.api.nvim_exec_autocmds('User', { pattern = 'ObservatoryStatus', data = params })
        -- A statusline is only drawn again on the user's next move otherwise.
        vim.cmd('redrawstatus!')
      end,
    },
    on_exit = function(_, _, client_id)
      statuses[client_id] = nil
      indexing[client_id] = nil
    end,
  }
end

--- Configures and enables the `observatory` language server.
---@param opts? observatory.Options
function M.setup(opts)
  local o = config.resolve(opts)
  options = o
  require('observatory.show').add_dir(config.documents_dir(o))
  require('observatory.commands').picker = o.picker or 'auto'
  local lenses = require('observatory.lenses')
  lenses.position = o.lens_position
  lenses.install()

  vim.lsp.config('observatory', lsp_config(o))
  vim.lsp.enable('observatory')

  augroup = vim.api.nvim_create_augroup('observatory', { clear = true })
  vim.api.nvim_create_autocmd('LspAttach', {
    group = augroup,
    callback = function(ev)
      local c = vim.lsp.get_client_by_id(ev.data.client_id)
      if c and c.name == 'observatory' then require('observatory.attach').attach(c, ev.buf, o) end
    end,
  })
  vim.api.nvim_create_autocmd('LspDetach', {
    group = augroup,
    callback = function(ev)
      local c = vim.lsp.get_client_by_id(ev.data.client_id)
      if c and c.name == 'observatory' then require('observatory.attach').detach(ev.buf) end
    end,
  })
  -- The first indexing pass's progress, for the status (and statuslines, through
  -- the same autocmd as a status change).
  vim.api.nvim_create_autocmd('LspProgress', {
    group = augroup,
    callback = function(ev)
      local params = ev.data and ev.data.params
      if not params or params.token ~= 'observatory/indexing' or type(params.value) ~= 'table' then return end
      local id = ev.data.client_id
      indexing[id] = params.value.kind ~= 'end' and (params.value.percentage or indexing[id] or 0) or nil
      vim.api.nvim_exec_autocmds('User', { pattern = 'ObservatoryStatus', data = statuses[id] })
      vim.cmd('redrawstatus!')
    end,
  })
  if o.keymaps then require('observatory.links').watch_hovers() end

  -- A second setup{} changes the settings of running servers at once.
  for _, c in ipairs(vim.lsp.get_clients({ name = 'observatory' })) do
    c:notify('workspace/didChangeConfiguration', { settings = { observatory = config.server_settings(o) } })
  end
end

return M
