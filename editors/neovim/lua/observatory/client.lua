---@mod observatory.client Finding the Observatory client and talking to it

local M = {}

M.name = 'observatory'

--- The Observatory client attached to `bufnr`, else any running one.
---@param bufnr? integer
---@return vim.lsp.Client?
function M.get(bufnr)
  local clients = vim.lsp.get_clients({ name = M.name, bufnr = bufnr or vim.api.nvim_get_current_buf() })
  if #clients == 0 then clients = vim.lsp.get_clients({ name = M.name }) end
  return clients[1]
end

--- Like `get`, but tells the user when there is none.
---@param bufnr? integer
---@return vim.lsp.Client?
function M.require(bufnr)
  local c = M.get(bufnr)
  if not c then
    vim.notify('Observatory: the language server is not running (call require("observatory").setup{} and open a file)',
      vim.log.levels.WARN)
  end
  return c
end

--- The client attached to `bufnr`; else nil, and the user is told why: commands
--- about a file's lines need the server to have the file open.
---@param bufnr integer
---@return vim.lsp.Client?
function M.require_attached(bufnr)
  local c = vim.lsp.get_clients({ name = M.name, bufnr = bufnr })[1]
  if c then return c end
  if not M.require(bufnr) then return nil end
  local ft = vim.bo[bufnr].filetype
  local why
  if vim.api.nvim_buf_get_name(bufnr) == '' or vim.bo[bufnr].buftype ~= '' then
    why = 'it is not a file'
  elseif ft == 'observatory' then
    why = 'it is a conversation, not a source file'
  else
    why = ('its filetype "%s" is not in setup{}\'s `filetypes`'):format(ft)
  end
  vim.notify('Observatory: this buffer is not attributed: ' .. why, vim.log.levels.INFO)
  return nil
end

---@param err lsp.ResponseError|table
local function message(err)
  return type(err) == 'table' and (err.message or vim.inspect(err)) or tostring(err)
end

--- Sends a request; `on_result` gets the result, errors are shown.
---@param client vim.lsp.Client
---@param method string
---@param params table
---@param on_result fun(result: any)
---@param bufnr? integer
function M.request(client, method, params, on_result, bufnr)
  client:request(method, params, function(err, result)
    if err then
      vim.notify('Observatory: ' .. message(err), vim.log.levels.ERROR)
    else
      on_result(result)
    end
  end, bufnr)
end

--- Runs a server command (`workspace/executeCommand`), bypassing client-side
--- handlers so they can call it themselves.
---@param client vim.lsp.Client
---@param command string
---@param arguments any[]
---@param on_result? fun(result: any)
function M.execute(client, command, arguments, on_result)
  M.request(client, 'workspace/executeCommand', { command = command, arguments = arguments },
    on_result or function() end)
end

--- Runs a command as if a lens or action had been chosen (client-side handlers first).
---@param client vim.lsp.Client
---@param command lsp.Command
---@param bufnr? integer
function M.run(client, command, bufnr)
  client:exec_cmd(command, { bufnr = bufnr or vim.api.nvim_get_current_buf() })
end

--- The local checkout a buffer belongs to: the client's workspace folder holding it.
---@param client vim.lsp.Client
---@param bufnr? integer
---@return string
function M.workspace_root(client, bufnr)
  local name = vim.api.nvim_buf_get_name(bufnr or 0)
  local best ---@type string?
  for _, f in ipairs(client.workspace_folders or {}) do
    local dir = vim.uri_to_fname(f.uri)
    if (name == dir or vim.startswith(name, dir .. '/')) and (not best or #dir > #best) then best = dir end
  end
  return best or client.root_dir or vim.fn.getcwd()
end

return M
