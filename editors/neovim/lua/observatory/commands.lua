---@mod observatory.commands `:Observatory {subcommand}`

local client = require('observatory.client')
local pick = require('observatory.pick')

local M = {}

---@type observatory.Picker
M.picker = 'auto'

---@param at string?
local function day(at)
  return at and at:sub(1, 10) or '?'
end

---@param c vim.lsp.Client
---@param id string
---@param message? string
local function open_conversation(c, id, message)
  client.run(c, { title = 'open', command = 'observatory.openConversation', arguments = { id, message } })
end

--- The attribution run covering the cursor line, from `observatory/blame`.
---@param c vim.lsp.Client
---@param bufnr integer
---@param on_run fun(run: table?, blame: table)
local function run_at_cursor(c, bufnr, on_run)
  local line = vim.api.nvim_win_get_cursor(0)[1]
  client.request(c, 'observatory/blame', { uri = vim.uri_from_bufnr(bufnr) }, function(blame)
    for _, r in ipairs(blame.runs or {}) do
      if r.start_line <= line and line <= r.end_line then return on_run(r, blame) end
    end
    on_run(nil, blame)
  end, bufnr)
end

--- Runs `fn(run)` for the cursor line's run, or says there is none.
---@param what string
---@param fn fun(c: vim.lsp.Client, run: table, bufnr: integer)
local function with_run(what, fn)
  return function()
    local bufnr = vim.api.nvim_get_current_buf()
    local c = client.require_attached(bufnr)
    if not c then return end
    run_at_cursor(c, bufnr, function(run, blame)
      if run then return fn(c, run, bufnr) end
      local why = blame.pending and 'attribution is still being computed' or 'no agent wrote this line'
      vim.notify(('Observatory: cannot %s: %s'):format(what, why), vim.log.levels.INFO)
    end)
  end
end

---@type table<string, fun(args: string[], bang: boolean)>
M.subcommands = {
  --- Full-text search over every conversation; the chosen hit opens at its message.
  search = function(args)
    local function go(query)
      if not query or vim.trim(query) == '' then return end
      local c = client.require()
      if not c then return end
      client.request(c, 'observatory/search', { query = query }, function(page)
        pick.pick(page.hits or {}, {
          prompt = 'Observatory search: ' .. query,
          picker = M.picker,
          format = function(h)
            local snippet = (h.snippet or ''):gsub('</?mark>', ''):gsub('%s+', ' ')
            return ('%s · %s · %s'):format(h.conversation_title, day(h.at), snippet)
          end,
        }, function(h) open_conversation(c, h.session_id, h.message_uuid) end)
      end)
    end
    if #args > 0 then return go(table.concat(args, ' ')) end
    vim.ui.input({ prompt = 'Search conversations: ', default = vim.fn.expand('<cword>') }, go)
  end,

  --- The conversations that wrote this file (`all`: every conversation).
  conversations = function(args)
    local bufnr = vim.api.nvim_get_current_buf()
    local c = client.require(bufnr)
    if not c then return end
    local params = { limit = 100 }
    if args[1] ~= 'all' and vim.api.nvim_buf_get_name(bufnr) ~= '' then
      params.textDocument = { uri = vim.uri_from_bufnr(bufnr) }
    end
    client.request(c, 'observatory/conversations', params, function(page)
      pick.pick(page.items or {}, {
        prompt = 'Observatory conversations',
        picker = M.picker,
        format = function(s)
          return ('%s · %s · %d messages'):format(s.title, day(s.ended_at or s.started_at), s.message_count or 0)
        end,
      }, function(s) open_conversation(c, s.session_id) end)
    end, bufnr)
  end,

  --- The file's attributed runs; the chosen one is jumped to.
  blame = function()
    local bufnr = vim.api.nvim_get_current_buf()
    local c = client.require_attached(bufnr)
    if not c then return end
    client.request(c, 'observatory/blame', { uri = vim.uri_from_bufnr(bufnr) }, function(blame)
      if blame.pending then
        return vim.notify('Observatory: attribution is still being computed', vim.log.levels.INFO)
      end
      pick.pick(blame.runs or {}, {
        prompt = ('Observatory blame: %d lines from %d conversations'):format(blame.attributedLines or 0,
          blame.conversations or 0),
        picker = M.picker,
        format = function(r)
          -- Named by the prompt that led to the change, as annotations are: every run of
          -- one conversation shares its title.
          local name = vim.trim((r.prompt or ''):gsub('%s+', ' '))
          if name == '' then name = r.conversation_title end
          local lines = r.start_line == r.end_line and tostring(r.start_line)
            or ('%d–%d'):format(r.start_line, r.end_line)
          return ('%s  %s · %s · %s'):format(lines, name, r.tool, r.at and r.at:sub(1, 16):gsub('T', ' ') or '?')
        end,
      }, function(r)
        local win = vim.fn.bufwinid(bufnr)
        if win ~= -1 then
          vim.api.nvim_set_current_win(win)
          vim.api.nvim_win_set_cursor(win, { r.start_line, 0 })
        end
      end)
    end, bufnr)
  end,

  --- The link under the cursor, else the conversation that wrote this line at its
  --- message, else the list of the file's conversations.
  open = function()
    if require('observatory.links').follow() then return end
    local bufnr = vim.api.nvim_get_current_buf()
    local c = client.require_attached(bufnr)
    if not c then return end
    run_at_cursor(c, bufnr, function(run, blame)
      if run then return open_conversation(c, run.session_id, run.message_uuid) end
      if blame.pending then
        return vim.notify('Observatory: attribution is still being computed', vim.log.levels.INFO)
      elseif (blame.conversations or 0) == 0 then
        return vim.notify('Observatory: no agent conversation wrote this file', vim.log.levels.INFO)
      end
      client.run(c, { title = 'list', command = 'observatory.listConversations',
        arguments = { vim.uri_from_bufnr(bufnr) } }, bufnr)
    end)
  end,

  copy = with_run('copy the prompt', function(c, run, bufnr)
    client.run(c, { title = 'copy', command = 'observatory.copyPrompt', arguments = { run.session_id, run.tool_use_id } },
      bufnr)
  end),

  resume = with_run('resume', function(c, run, bufnr)
    client.run(c, { title = 'resume', command = 'observatory.resumeConversation', arguments = { run.session_id } },
      bufnr)
  end),

  diff = with_run('show the diff', function(c, run, bufnr)
    client.run(c, { title = 'diff', command = 'observatory.showDiff',
      arguments = { vim.api.nvim_buf_get_name(bufnr), run.tool_use_id } }, bufnr)
  end),

  --- The connection to the platform.
  status = function()
    local c = client.require()
    if not c then return end
    client.request(c, 'observatory/status', {}, function(s)
      local observatory = require('observatory')
      vim.notify(observatory.format_status(s, observatory.indexing_progress(c.id)), vim.log.levels.INFO)
    end)
  end,

  --- Fetch lenses and hints again.
  refresh = function()
    local bufnr = vim.api.nvim_get_current_buf()
    require('observatory.attach').refresh_lenses(bufnr)
    vim.lsp.inlay_hint.enable(vim.lsp.inlay_hint.is_enabled({ bufnr = bufnr }), { bufnr = bufnr })
  end,
}

--- `:Observatory` itself.
---@param info { fargs: string[], bang: boolean }
function M.dispatch(info)
  local name = info.fargs[1] or 'status'
  local fn = M.subcommands[name]
  if not fn then
    return vim.notify('Observatory: unknown subcommand ' .. name .. ' (' .. table.concat(M.names(), ', ') .. ')',
      vim.log.levels.ERROR)
  end
  fn(vim.list_slice(info.fargs, 2), info.bang)
end

---@return string[]
function M.names()
  local names = vim.tbl_keys(M.subcommands)
  table.sort(names)
  return names
end

---@param arg_lead string
---@param line string
---@return string[]
function M.complete(arg_lead, line)
  local words = vim.split(line, '%s+', { trimempty = true })
  if #words > 2 or (#words == 2 and arg_lead == '') then
    return words[2] == 'conversations' and { 'all' } or {}
  end
  return vim.tbl_filter(function(n) return vim.startswith(n, arg_lead) end, M.names())
end

return M
