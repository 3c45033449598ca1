-- What the Neovim specs share: their OBS_* environment, what they observed (written as
-- JSON to OBS_RESULT for tests/neovim.rs), and how they end.
local M = { observed = {} }

function M.env(name)
  local v = os.getenv(name)
  assert(v and v ~= '', name .. ' must be set')
  return v
end

function M.finish(code)
  local f = assert(io.open(M.env('OBS_RESULT'), 'w'))
  f:write(vim.json.encode(M.observed))
  f:close()
  vim.cmd((code == 0 and 'qa!') or ('cquit ' .. code))
end

--- Ends the spec after `ok, err` from its pcall/xpcall: 0, or 2 with the error recorded.
function M.conclude(ok, err)
  if not ok then
    M.observed.failure = tostring(err)
    io.stderr:write('ERROR: ' .. tostring(err) .. '\n')
    M.finish(2)
  else
    M.finish(0)
  end
end

return M
