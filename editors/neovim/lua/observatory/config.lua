---@mod observatory.config Options of require("observatory").setup{}

local M = {}

---@alias observatory.InlayHints "off"|"currentLine"|"all"

---@class observatory.Options
---@field binary? string             the observatory executable (default "observatory" on $PATH)
---@field cmd? string[]              the whole server command; overrides binary/data_dir/claude_dir
---@field data_dir? string           --data-dir for the server (default $XDG_DATA_HOME/observatory)
---@field claude_dir? string         --claude-dir for the server (default ~/.claude)
---@field url? string                a platform to use instead of the local one
---@field apiKey? string             its API key
---@field codeLens? boolean          code lenses (default true)
---@field lens_position? "above"|"eol"  lenses above their line, or at its end as Neovim 0.11 draws them (default "above")
---@field hover? boolean             hover (default true)
---@field inlayHints? observatory.InlayHints  end-of-line annotations (default "currentLine")
---@field codeActions? boolean       code actions (default true)
---@field maxFileBytes? integer      larger files are not attributed
---@field debounceMs? integer        quiet time after typing before attribution is recomputed
---@field ignoreWhitespace? boolean  keep the agent as author of re-indented lines, like git blame -w
---@field filetypes? string[]        filetypes the server attaches to
---@field root_markers? string[]     markers of a workspace root (default { ".git" })
---@field split? "split"|"vsplit"|"tab"  where documents the server shows open (default "vsplit")
---@field cursor_debounce_ms? integer  delay before the cursor line is sent (default 120)
---@field picker? "auto"|"telescope"|"fzf-lua"|"select"  list UI for :Observatory (default "auto")
---@field keymaps? boolean           buffer-local <CR>/gx on command links in Observatory documents and hovers (default true)

--- Settings the server reads (docs/lsp.md, "Settings"): forwarded as they are.
M.server_keys = { 'url', 'apiKey', 'codeLens', 'hover', 'inlayHints', 'codeActions', 'maxFileBytes', 'debounceMs', 'ignoreWhitespace' }

--- Source filetypes. Not "observatory": the documents the server writes are shown
--- with that filetype, so they never start a second server.
M.default_filetypes = {
  'bash', 'c', 'cmake', 'cpp', 'cs', 'css', 'dart', 'dockerfile', 'elixir', 'erlang', 'fish',
  'go', 'gomod', 'graphql', 'haskell', 'html', 'java', 'javascript', 'javascriptreact', 'json',
  'jsonc', 'julia', 'kotlin', 'lua', 'make', 'markdown', 'nix', 'ocaml', 'perl', 'php', 'proto',
  'python', 'r', 'ruby', 'rust', 'scala', 'scss', 'sh', 'sql', 'svelte', 'swift', 'terraform',
  'toml', 'typescript', 'typescriptreact', 'vim', 'vue', 'xml', 'yaml', 'zig', 'zsh',
  -- Agents write more than code: notes, requirements, configuration.
  'text', 'requirements', 'gitignore', 'conf', 'dosini', 'rst', 'tex', 'csv', 'properties',
  'groovy', 'clojure', 'elm', 'objc', 'hcl', 'just', 'prisma', 'astro', 'sass', 'less',
}

---@type observatory.Options
M.defaults = {
  binary = 'observatory',
  codeLens = true,
  lens_position = 'above',
  hover = true,
  inlayHints = 'currentLine',
  codeActions = true,
  root_markers = { '.git' },
  split = 'vsplit',
  cursor_debounce_ms = 120,
  keymaps = true,
  picker = 'auto',
}

---@param v any
local function list_of_strings(v)
  if type(v) ~= 'table' then return false end
  for _, s in ipairs(v) do
    if type(s) ~= 'string' then return false end
  end
  return true
end

--- Checks that a value is one of `allowed`.
---@param o table
---@param key string
---@param allowed string[]
local function one_of(o, key, allowed)
  vim.validate(key, o[key], function(v) return vim.tbl_contains(allowed, v) end,
    'one of "' .. table.concat(allowed, '", "') .. '"')
end

--- Merges `opts` over the defaults and checks every value (errors name the option).
---@param opts? observatory.Options
---@return observatory.Options
function M.resolve(opts)
  vim.validate('opts', opts, 'table', true)
  local o = vim.tbl_deep_extend('force', {}, M.defaults, { filetypes = M.default_filetypes }, opts or {})
  vim.validate('binary', o.binary, 'string')
  vim.validate('cmd', o.cmd, list_of_strings, true, 'a list of strings')
  vim.validate('data_dir', o.data_dir, 'string', true)
  vim.validate('claude_dir', o.claude_dir, 'string', true)
  vim.validate('url', o.url, 'string', true)
  vim.validate('apiKey', o.apiKey, 'string', true)
  vim.validate('codeLens', o.codeLens, 'boolean')
  one_of(o, 'lens_position', { 'above', 'eol' })
  vim.validate('hover', o.hover, 'boolean')
  one_of(o, 'inlayHints', { 'off', 'currentLine', 'all' })
  vim.validate('codeActions', o.codeActions, 'boolean')
  vim.validate('maxFileBytes', o.maxFileBytes, 'number', true)
  vim.validate('debounceMs', o.debounceMs, 'number', true)
  vim.validate('ignoreWhitespace', o.ignoreWhitespace, 'boolean', true)
  vim.validate('filetypes', o.filetypes, list_of_strings, 'a list of strings')
  vim.validate('root_markers', o.root_markers, list_of_strings, 'a list of strings')
  one_of(o, 'split', { 'split', 'vsplit', 'tab' })
  vim.validate('cursor_debounce_ms', o.cursor_debounce_ms, 'number')
  vim.validate('keymaps', o.keymaps, 'boolean')
  one_of(o, 'picker', { 'auto', 'telescope', 'fzf-lua', 'select' })
  return o
end

--- The server's settings (initializationOptions and didChangeConfiguration).
---@param o observatory.Options
---@return table
function M.server_settings(o)
  local s = { shim = true } -- this plugin copies prompts and runs `claude --resume` itself
  for _, k in ipairs(M.server_keys) do
    s[k] = o[k]
  end
  return s
end

---@param o observatory.Options
---@return string[]
function M.cmd(o)
  if o.cmd then return o.cmd end
  local cmd = { o.binary }
  if o.data_dir then vim.list_extend(cmd, { '--data-dir', o.data_dir }) end
  if o.claude_dir then vim.list_extend(cmd, { '--claude-dir', o.claude_dir }) end
  table.insert(cmd, 'lsp')
  return cmd
end

--- Where the server writes its documents: `<data dir>/editor/`.
---@param o observatory.Options
---@return string?
function M.documents_dir(o)
  local data = o.data_dir
  if not data and o.cmd then
    for i, a in ipairs(o.cmd) do
      if a == '--data-dir' then data = o.cmd[i + 1] end
      data = data or a:match('^%-%-data%-dir=(.+)$')
    end
  end
  if not data then
    local xdg = vim.env.XDG_DATA_HOME
    local base = (xdg and xdg:sub(1, 1) == '/') and xdg or (vim.env.HOME and (vim.env.HOME .. '/.local/share'))
    data = base and (base .. '/observatory')
  end
  return data and vim.fs.normalize(data .. '/editor') or nil
end

return M
