-- The Neovim plugin (editors/neovim) against the real `observatory lsp`: what a user
-- of require("observatory").setup{} sees, with no keypress and through :Observatory.
--
-- Run by tests/neovim.rs as `nvim --headless --clean -l tests/neovim/plugin_spec.lua`
-- with OBS_* variables (see lsp_spec.lua) and OBS_PLUGIN (editors/neovim),
-- OBS_CLAUDE_LOG (where the fake `claude` on PATH records its argv and cwd).
-- Writes what it observed as JSON to OBS_RESULT; exits non-zero on a failure.

local harness = dofile(debug.getinfo(1, 'S').source:sub(2):match('(.*/)') .. 'harness.lua')
local env, observed, finish = harness.env, harness.observed, harness.finish

local function check(cond, what)
  if not cond then error('FAILED: ' .. what, 0) end
end

local function wait(ms, cond, what)
  check(vim.wait(ms, cond, 50), 'timed out waiting for ' .. what)
end

local start = vim.uv.hrtime() / 1e9
local function step(name) io.stderr:write(('[%.1fs] %s\n'):format(vim.uv.hrtime() / 1e9 - start, name)) end

local ok, err = xpcall(function()
  vim.opt.runtimepath:prepend(env('OBS_PLUGIN'))
  vim.cmd('filetype plugin on')
  vim.cmd('runtime plugin/observatory.lua')
  local notes = {}
  vim.notify = function(msg, level) table.insert(notes, { msg = msg, level = level }) end

  -- setup{} validates its options.
  local bad = pcall(require('observatory').setup, { inlayHints = 'sometimes' })
  check(not bad, 'setup{} refuses inlayHints = "sometimes"')

  require('observatory').setup({
    binary = env('OBS_BIN'),
    data_dir = env('OBS_DATA'),
    claude_dir = env('OBS_CLAUDE'),
    picker = 'select',
  })
  check(vim.lsp.config.observatory.init_options.inlayHints == 'currentLine', 'currentLine hints by default')
  check(vim.lsp.config.observatory.init_options.shim == true, 'shim = true')

  local t0 = vim.uv.hrtime()
  vim.cmd.edit(vim.fn.fnameescape(env('OBS_FILE')))
  local src = vim.api.nvim_get_current_buf()
  local src_win = vim.api.nvim_get_current_win()
  local client
  wait(30000, function()
    client = vim.lsp.get_clients({ name = 'observatory', bufnr = src })[1]
    return client ~= nil and client.initialized
  end, 'the server to attach by itself')
  step('attached')

  -- Lenses with no keypress and no refresh call from the test.
  local lenses = {}
  wait(30000, function()
    lenses = vim.lsp.codelens.get(src)
    return #lenses > 0 and lenses[1].command ~= nil
  end, 'code lenses, unasked')
  observed.lens_ms = math.floor((vim.uv.hrtime() - t0) / 1e6)
  table.sort(lenses, function(a, b) return a.range.start.line < b.range.start.line end)
  observed.lens_top = lenses[1].command.title
  check(observed.lens_top:match('^1 agent conversation · 16 lines'), 'summary lens: ' .. observed.lens_top)
  -- Drawn as virtual text in the buffer.
  local drawn = false
  for _, m in ipairs(vim.api.nvim_buf_get_extmarks(src, -1, 0, -1, { details = true })) do
    for _, chunk in ipairs(m[4].virt_text or {}) do
      if chunk[1]:find('agent conversation', 1, true) then drawn = true end
    end
  end
  check(drawn, 'the lens is drawn as virtual text')
  -- A function's lens is drawn above its line: Neovim 0.11 puts it at the end, where
  -- the current line's annotation goes too.
  local above
  wait(10000, function()
    for _, m in ipairs(vim.api.nvim_buf_get_extmarks(src, -1, 0, -1, { details = true })) do
      local d = m[4]
      if d.virt_lines and d.virt_lines_above then above = { row = m[2], text = d.virt_lines[1][1][1] } end
      for _, chunk in ipairs(d.virt_text or {}) do
        check(m[2] == 0, 'a lens at the end of line ' .. (m[2] + 1) .. ': ' .. chunk[1])
      end
    end
    return above ~= nil
  end, 'a lens above its line')
  observed.lens_above = above
  check(above.row == 3 and above.text:find('^make some minor random test changes'),
    'the lens of greet above `def greet`: ' .. vim.inspect(above))
  step('lenses')

  -- The current-line annotation follows the cursor.
  local function hint_lines()
    local lines = {}
    for _, h in ipairs(vim.lsp.inlay_hint.get({ bufnr = src })) do
      lines[#lines + 1] = h.inlay_hint.position.line
    end
    table.sort(lines)
    return lines
  end
  vim.api.nvim_win_set_cursor(src_win, { 9, 0 })
  vim.api.nvim_exec_autocmds('CursorMoved', { buffer = src })
  wait(10000, function() local l = hint_lines() return #l == 1 and l[1] == 8 end, 'the annotation on line 9')
  local label = vim.lsp.inlay_hint.get({ bufnr = src })[1].inlay_hint.label
  observed.hint = type(label) == 'string' and label or label[1].value
  check(observed.hint:match('^◆ '), 'annotation text: ' .. observed.hint)
  vim.api.nvim_win_set_cursor(src_win, { 12, 0 })
  vim.api.nvim_exec_autocmds('CursorMoved', { buffer = src })
  wait(10000, function() local l = hint_lines() return #l == 1 and l[1] == 11 end, 'the annotation to move to line 12')
  observed.hint_lines = hint_lines()
  step('annotation follows the cursor')

  -- :Observatory status reports connected.
  wait(30000, function()
    notes = {}
    vim.cmd('Observatory status')
    return vim.wait(3000, function() return #notes > 0 end) and notes[1].msg:find('connected', 1, true) ~= nil
  end, ':Observatory status to say connected')
  observed.status = notes[1].msg
  -- While the platform's first pass runs, the status says how far it is.
  local indexing_line = require('observatory').format_status({ state = 'connected', indexing = true }, 40)
  check(indexing_line:find('indexing transcripts, 40%', 1, true), 'status while indexing: ' .. indexing_line)
  -- The statusline item is a string in every buffer (a nil shows as `v:null`).
  observed.statusline = require('observatory').statusline(src)
  check(observed.statusline:match('^observatory: connected'), 'statusline: ' .. observed.statusline)
  local scratch = vim.api.nvim_create_buf(false, true)
  check(require('observatory').statusline(scratch) == '', 'statusline without the server')
  vim.api.nvim_buf_delete(scratch, { force = true })
  step('status')

  -- :Observatory search: the fixture conversation is offered; choosing it opens it in a split.
  local offered
  vim.ui.select = function(items, opts, on_choice)
    offered = vim.tbl_map(opts.format_item, items)
    on_choice(items[1])
  end
  local wins = #vim.api.nvim_tabpage_list_wins(0)
  vim.cmd('Observatory search greet')
  wait(10000, function() return offered ~= nil end, 'search results')
  observed.search = offered
  check(offered[1]:find('create some files for test purposes', 1, true) ~= nil, 'the fixture conversation found')
  wait(10000, function() return vim.api.nvim_buf_get_name(0):match('conversation%-.*%.md$') ~= nil end,
    'the conversation to open')
  check(#vim.api.nvim_tabpage_list_wins(0) == wins + 1, 'in a new split')
  check(vim.api.nvim_win_get_buf(src_win) == src, 'the source stays in its window')
  check(vim.bo.filetype == 'observatory', 'filetype observatory, not ' .. vim.bo.filetype)
  check(#vim.lsp.get_clients({ bufnr = 0 }) == 0, 'no server attached to the conversation')
  check(#vim.lsp.get_clients({ name = 'observatory' }) == 1, 'still one server')
  observed.opened = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(0), ':t')
  observed.opened_first_line = vim.api.nvim_buf_get_lines(0, 0, 1, false)[1]
  step('search and open')
  vim.cmd('close')
  vim.api.nvim_set_current_win(src_win)

  -- :Observatory open at the cursor line: the conversation at its message, in a split.
  vim.api.nvim_win_set_cursor(src_win, { 9, 0 })
  vim.cmd('Observatory open')
  wait(10000, function() return vim.api.nvim_buf_get_name(0):match('conversation%-.*%.md$') ~= nil end,
    ':Observatory open')
  check(vim.api.nvim_win_get_buf(src_win) == src, 'open: the source stays in its window')
  observed.open_line = vim.api.nvim_win_get_cursor(0)[1]
  check(not vim.bo.modifiable, 'a conversation is not modifiable')
  check(#vim.tbl_filter(function(m) return m.group == 'Conceal' end, vim.fn.getmatches()) == 1,
    'Markdown escapes are concealed')
  -- The message anchors are hidden lines.
  local hidden = vim.api.nvim_buf_get_extmarks(0, vim.api.nvim_create_namespace('observatory.anchors'), 0, -1, {})
  local anchors = vim.tbl_filter(function(l) return l:match('^<a id=') ~= nil end,
    vim.api.nvim_buf_get_lines(0, 0, -1, false))
  check(#anchors > 0 and #hidden == #anchors, ('anchors hidden: %d of %d'):format(#hidden, #anchors))
  vim.cmd('close')
  vim.api.nvim_set_current_win(src_win)
  step('open')

  -- A hover link runs its command.
  local hover = client:request_sync('textDocument/hover',
    { textDocument = { uri = vim.uri_from_bufnr(src) }, position = { line = 8, character = 0 } }, 10000, src)
  local md = hover.result.contents.value
  local link = md:match('%[Open conversation%]%(([^)]+)%)')
  local cmd = require('observatory.links').parse(link)
  -- A link a transcript wrote into a conversation runs nothing.
  check(require('observatory.links').parse('command:observatory.resumeConversation?%5B%22x%22%5D') == nil,
    'only openConversation links are followed')
  check(cmd and cmd.command == 'observatory.openConversation' and #cmd.arguments == 1, 'hover link parsed')
  local fbuf, fwin = vim.lsp.util.open_floating_preview(vim.split(md, '\n'), 'markdown', {})
  vim.api.nvim_set_current_win(fwin)
  for i, l in ipairs(vim.api.nvim_buf_get_lines(fbuf, 0, -1, false)) do
    local s = l:find('[Open conversation]', 1, true)
    if s then vim.api.nvim_win_set_cursor(fwin, { i, s + 1 }) end
  end
  vim.api.nvim_feedkeys(vim.keycode('gx'), 'x', false)
  wait(10000, function() return vim.api.nvim_buf_get_name(0):match('conversation%-.*%.md$') ~= nil end,
    'gx on the hover link to open the conversation')
  vim.cmd('close')
  vim.api.nvim_set_current_win(src_win)
  step('hover link')

  -- Copy the prompt: a register is filled.
  vim.fn.setreg('"', '')
  vim.cmd('Observatory copy')
  wait(10000, function() return vim.fn.getreg('"') ~= '' end, 'the prompt in the unnamed register')
  observed.copied = vim.fn.getreg('"')
  check(observed.copied:find('make some minor random test changes', 1, true), 'the prompt: ' .. observed.copied)
  step('copy')

  -- Resume without `claude` on PATH: one message, and no split left behind.
  local path, windows, told = vim.env.PATH, #vim.api.nvim_list_wins(), #notes
  vim.env.PATH = '/nonexistent'
  vim.cmd('Observatory resume')
  wait(10000, function() return #notes > told end, 'a message that claude is missing')
  vim.env.PATH = path
  check(notes[#notes].msg:find('`claude` is not on PATH', 1, true), 'resume without claude: ' .. notes[#notes].msg)
  check(#vim.api.nvim_list_wins() == windows, 'resume without claude: no split left behind')

  -- Resume: a terminal split runs claude --resume <id> in the workspace.
  vim.cmd('Observatory resume')
  wait(10000, function() return vim.bo.buftype == 'terminal' end, 'a terminal')
  check(vim.api.nvim_win_get_buf(src_win) == src, 'resume: the source stays in its window')
  local log = env('OBS_CLAUDE_LOG')
  wait(10000, function() return vim.uv.fs_stat(log) ~= nil end, 'the fake claude to run')
  vim.wait(200)
  observed.claude = vim.split(assert(io.open(log)):read('a'), '\n', { trimempty = true })
  check(observed.claude[1] == '--resume ' .. (cmd.arguments[1]), 'claude argv: ' .. tostring(observed.claude[1]))
  check(observed.claude[2] == env('OBS_ROOT'), 'claude cwd: ' .. tostring(observed.claude[2]))
  vim.cmd('bwipeout!')
  vim.api.nvim_set_current_win(src_win)
  step('resume')

  -- Code actions use the same client-side commands; conversations and blame list.
  local listed
  vim.ui.select = function(items, opts, on_choice)
    listed = vim.tbl_map(opts.format_item, items)
  end
  vim.cmd('Observatory conversations')
  wait(10000, function() return listed ~= nil end, ':Observatory conversations')
  observed.conversations = listed
  listed = nil
  vim.cmd('Observatory blame')
  wait(10000, function() return listed ~= nil end, ':Observatory blame')
  observed.blame = listed
  check(listed[2] and listed[2]:find('^9–10  make some minor random test changes') ~= nil,
    'blame rows are named by their prompt: ' .. tostring(listed[2]))
  step('lists')

  -- A file no agent wrote: `open` says so instead of opening an empty list.
  local root = env('OBS_ROOT')
  local untouched = root .. '/untouched.py'
  local f = assert(io.open(untouched, 'w'))
  f:write('print("mine")\n')
  f:close()
  vim.cmd.edit(vim.fn.fnameescape(untouched))
  local ubuf = vim.api.nvim_get_current_buf()
  wait(30000, function() return #vim.lsp.get_clients({ name = 'observatory', bufnr = ubuf }) > 0 end, 'attach to untouched.py')
  local said = #notes
  local function last_note() return notes[#notes] and notes[#notes].msg or '' end
  wait(30000, function()
    if #notes > said and last_note():find('no agent conversation wrote this file', 1, true) then return true end
    -- Until its attribution is computed, `open` says so; ask again.
    vim.api.nvim_set_current_buf(ubuf)
    vim.cmd('Observatory open')
    vim.wait(300)
    return false
  end, ':Observatory open on a file no agent wrote')
  check(vim.api.nvim_get_current_buf() == ubuf, 'open on an untouched file: no empty page opened')
  -- A buffer of a filetype the server is not attached to: told why, not "computing".
  vim.cmd.edit(vim.fn.fnameescape(root .. '/notes.nosuch'))
  vim.bo.filetype = 'nosuchfiletype'
  said = #notes
  vim.cmd('Observatory blame')
  wait(5000, function() return #notes > said end, ':Observatory blame in an unattached buffer')
  check(last_note():find('its filetype "nosuchfiletype" is not in', 1, true), 'unattached: ' .. last_note())
  vim.cmd('enew')
  said = #notes
  vim.cmd('Observatory copy')
  wait(5000, function() return #notes > said end, ':Observatory copy in a buffer without a file')
  check(last_note():find('not attributed: it is not a file', 1, true), 'no file: ' .. last_note())
  vim.cmd('bwipeout!')
  vim.cmd('bwipeout!')
  vim.cmd('bwipeout! ' .. ubuf)
  vim.cmd.buffer(src)
  step('unattached and untouched')

  -- :checkhealth observatory runs and finds the binary.
  vim.cmd('checkhealth observatory')
  local health = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
  observed.health_ok = health:find('OK ' .. env('OBS_BIN'), 1, true) ~= nil
    and health:find('OK Observatory: connected', 1, true) ~= nil and health:find('ERROR', 1, true) == nil
  check(observed.health_ok, 'checkhealth: ' .. health)
  vim.cmd.buffer(src)
  step('checkhealth')

  -- Live: the agent's edit lands in the buffer, then its transcript is written; the
  -- lens counts the new conversation with nothing asked (didChangeInsights).
  vim.api.nvim_buf_set_lines(src, 11, 12, false, { '    return f"HELLO, {name}!"' })
  local live = assert(io.open(env('OBS_LIVE_DST'), 'w'))
  live:write(assert(io.open(env('OBS_LIVE_SRC'))):read('a'))
  live:close()
  wait(30000, function()
    local l = vim.lsp.codelens.get(src)
    table.sort(l, function(a, b) return a.range.start.line < b.range.start.line end)
    return l[1] and l[1].command and l[1].command.title:match('^2 agent conversations') ~= nil
  end, 'the lens to count the live conversation by itself')
  observed.live_lens = true
  step('live lens')

  -- The same message from the servers of several roots is shown once, at its level.
  local show_message = vim.lsp.config.observatory.handlers['window/showMessage']
  local before = #notes
  for _ = 1, 2 do
    show_message(nil, { type = 2, message = 'Observatory: the platform stopped answering' }, { client_id = client.id })
  end
  local told = vim.list_slice(notes, before + 1)
  check(#told == 1 and told[1].msg == 'Observatory: the platform stopped answering'
    and told[1].level == vim.log.levels.WARN, 'a repeated message is shown once: ' .. vim.inspect(told))
  -- Echoed, a message fits the command line: a longer one stopped Neovim at a
  -- hit-enter prompt as it started.
  local observatory = require('observatory')
  local long = 'Observatory: the platform at http://127.0.0.1:9 does not answer. Nothing is loaded yet;\n reconnecting.'
  local fitted = observatory.fit(long, 40)
  check(vim.fn.strdisplaywidth(fitted) == 40 and fitted:sub(-3) == '…' and not fitted:find('\n'),
    'fitted to the line: ' .. fitted)
  check(observatory.fit('Observatory: short', 40) == 'Observatory: short', 'a short message is kept')

  -- The platform killed: a new one is started, and the user hears it is back.
  local serve = vim.json.decode(assert(io.open(env('OBS_DATA') .. '/serve.json')):read('a'))
  vim.uv.kill(serve.pid, 'sigkill')
  wait(30000, function()
    for _, n in ipairs(notes) do
      if n.msg:find('Observatory: connected again', 1, true) then return true end
    end
    return false
  end, 'connected again after the platform was killed')
  step('reconnected')
  observed.notes = notes
end, debug.traceback)

harness.conclude(ok, err)
