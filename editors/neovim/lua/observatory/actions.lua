---@mod observatory.actions What runs on the client: copying a prompt, resuming a
--- conversation in a terminal. The server (with `shim = true`) answers the command
--- with the data and leaves the doing to us.

local client = require('observatory.client')

local M = {}

--- Puts `text` in the unnamed register and, when there is one, the system clipboard.
---@param text string
---@return string[] registers written
function M.copy(text)
  local regs = { '"' }
  vim.fn.setreg('"', text)
  if vim.fn.has('clipboard') == 1 then
    for _, r in ipairs({ '+', '*' }) do
      if pcall(vim.fn.setreg, r, text) then table.insert(regs, r) end
    end
  end
  return regs
end

--- Opens a terminal split running `argv` in `cwd`; nil, and a message, when its
--- program is not on PATH (checked first: no empty split is left behind).
---@param argv string[]
---@param cwd string
---@return integer? bufnr
function M.terminal(argv, cwd)
  if vim.fn.executable(argv[1]) ~= 1 then
    vim.notify(('Observatory: cannot resume, `%s` is not on PATH (install Claude Code)'):format(argv[1]), vim.log.levels.ERROR)
    return nil
  end
  vim.cmd('belowright split')
  local bufnr = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_win_set_buf(0, bufnr)
  vim.fn.jobstart(argv, { term = true, cwd = cwd })
  vim.cmd.startinsert()
  return bufnr
end

--- Client-side handlers of server commands (`vim.lsp.ClientConfig.commands`).
---@type table<string, fun(command: lsp.Command, ctx: table)>
M.commands = {
  ['observatory.copyPrompt'] = function(command, ctx)
    local c = assert(vim.lsp.get_client_by_id(ctx.client_id))
    client.execute(c, command.command, command.arguments or {}, function(result)
      if not (result and result.prompt) then return end
      local regs = M.copy(result.prompt)
      vim.notify(('Observatory: prompt copied (%s)'):format(table.concat(regs, ' ')), vim.log.levels.INFO)
    end)
  end,
  ['observatory.resumeConversation'] = function(command, ctx)
    local c = assert(vim.lsp.get_client_by_id(ctx.client_id))
    -- The recorded directory may be another checkout or machine: resume here.
    local cwd = client.workspace_root(c, ctx.bufnr)
    local args = vim.deepcopy(command.arguments or {})
    args[2] = cwd
    client.execute(c, command.command, args, function(result)
      if not (result and result.command) then return end
      M.terminal(vim.list_extend({ result.command }, result.args or {}), cwd)
    end)
  end,
}

return M
