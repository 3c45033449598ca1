-- Neovim's built-in LSP client attached to `observatory lsp`, with no Observatory
-- code on the editor side: what any client gets from standard LSP features.
--
-- Run by tests/neovim.rs as `nvim --headless --clean -l tests/neovim/lsp_spec.lua`
-- with OBS_* variables naming the binary, the data and Claude directories, the
-- workspace and where to put the live transcript. Writes what it observed as JSON to
-- OBS_RESULT and exits non-zero on the first failed expectation.

local harness = dofile(debug.getinfo(1, 'S').source:sub(2):match('(.*/)') .. 'harness.lua')
local env, observed, finish = harness.env, harness.observed, harness.finish

local function check(cond, what)
  if not cond then
    observed.failure = what
    io.stderr:write('FAILED: ' .. what .. '\n')
    finish(1)
  end
end

local function wait(ms, cond, what)
  check(vim.wait(ms, cond, 50), 'timed out waiting for ' .. what)
end

local ok, err = pcall(function()
  local file = env('OBS_FILE')
  vim.cmd.edit(vim.fn.fnameescape(file))
  local buf = vim.api.nvim_get_current_buf()

  local shown = {}
  -- Record what the server asks to show, and still show it the standard way.
  local show_document = vim.lsp.handlers['window/showDocument']
  vim.lsp.handlers['window/showDocument'] = function(e, result, ctx, config)
    table.insert(shown, result.uri)
    return show_document(e, result, ctx, config)
  end
  -- Neovim 0.11 advertises refresh support for inlay hints (not for code lenses,
  -- which it refreshes on its own events): count the server's refreshes.
  local refreshes = 0
  local hint_refresh = vim.lsp.handlers['workspace/inlayHint/refresh']
  vim.lsp.handlers['workspace/inlayHint/refresh'] = function(e, result, ctx, config)
    refreshes = refreshes + 1
    return hint_refresh(e, result, ctx, config)
  end
  local changed = 0
  vim.lsp.handlers['observatory/didChangeInsights'] = function() changed = changed + 1 end
  local messages = {}
  vim.lsp.handlers['window/showMessage'] = function(_, result)
    table.insert(messages, result.message)
  end

  local id = vim.lsp.start({
    name = 'observatory',
    cmd = { env('OBS_BIN'), '--data-dir', env('OBS_DATA'), '--claude-dir', env('OBS_CLAUDE'), 'lsp' },
    root_dir = env('OBS_ROOT'),
    init_options = { inlayHints = 'all' },
  }, { bufnr = buf })
  check(id ~= nil, 'the client started')
  local client = vim.lsp.get_client_by_id(id)
  wait(30000, function() return client.initialized end, 'initialize')

  local uri = vim.uri_from_bufnr(buf)
  local function request(method, params)
    local res, e = client:request_sync(method, params, 10000, buf)
    check(res ~= nil, method .. ' answered (' .. tostring(e) .. ')')
    check(res.err == nil, method .. ' succeeded: ' .. vim.inspect(res.err))
    return res.result
  end

  -- Code lens, the way Neovim shows them: refreshed, then read from its cache.
  local lenses = {}
  wait(30000, function()
    vim.lsp.codelens.refresh({ bufnr = buf })
    vim.wait(200)
    lenses = vim.lsp.codelens.get(buf)
    return #lenses > 0
  end, 'code lenses')
  table.sort(lenses, function(a, b) return a.range.start.line < b.range.start.line end)
  observed.lens_top = lenses[1].command.title
  observed.lens_lines = vim.tbl_map(function(l) return l.range.start.line end, lenses)
  check(observed.lens_top:match('^1 agent conversation · 16 lines · last '), 'summary lens: ' .. observed.lens_top)

  -- Hover.
  local hover = request('textDocument/hover', { textDocument = { uri = uri }, position = { line = 8, character = 0 } })
  observed.hover = hover and hover.contents.value or ''
  check(observed.hover:find('make some minor random test changes', 1, true), 'hover names the prompt')

  -- Inlay hints, as Neovim displays them.
  vim.lsp.inlay_hint.enable(true, { bufnr = buf })
  local hints = {}
  wait(10000, function()
    hints = vim.lsp.inlay_hint.get({ bufnr = buf })
    return #hints == 3
  end, 'three inlay hints')
  local label = hints[1].inlay_hint.label
  observed.hint = type(label) == 'string' and label or label[1].value

  -- Code actions, then running one: the conversation opens in a Neovim buffer.
  local actions = request('textDocument/codeAction', {
    textDocument = { uri = uri },
    range = { start = { line = 8, character = 9 }, ['end'] = { line = 8, character = 9 } },
    context = { diagnostics = {} },
  })
  observed.actions = vim.tbl_map(function(a) return a.title end, actions)
  local open
  for _, a in ipairs(actions) do
    if a.command and a.command.command == 'observatory.openConversation' then open = a.command end
  end
  check(open ~= nil, 'an action opens the conversation')
  client:exec_cmd(open, { bufnr = buf })
  wait(10000, function() return #shown > 0 end, 'window/showDocument')
  wait(5000, function() return vim.api.nvim_buf_get_name(0):match('conversation%-.*%.md$') ~= nil end,
    'the conversation opened in a buffer')
  observed.viewer_first_line = vim.api.nvim_buf_get_lines(0, 0, 1, false)[1]
  vim.cmd.buffer(buf)

  -- Search and workspace symbols.
  local found = request('observatory/search', { query = 'greet' })
  observed.search_hits = #found.hits
  local symbols = request('workspace/symbol', { query = 'greet' })
  observed.symbols = vim.tbl_map(function(s) return s.name end, symbols)

  -- Live: the buffer changes as the agent's edit lands, then its transcript is
  -- written; the server refreshes the lenses without being asked.
  vim.api.nvim_buf_set_lines(buf, 11, 12, false, { '    return f"HELLO, {name}!"' })
  vim.wait(500)
  local before = refreshes
  local live = assert(io.open(env('OBS_LIVE_DST'), 'w'))
  live:write(assert(io.open(env('OBS_LIVE_SRC'))):read('a'))
  live:close()
  wait(30000, function() return refreshes > before end, 'workspace/inlayHint/refresh from the server')
  -- Neovim fetches the hints again by itself: the new conversation shows up.
  wait(10000, function()
    for _, h in ipairs(vim.lsp.inlay_hint.get({ bufnr = buf })) do
      local l = h.inlay_hint.label
      if (type(l) == 'string' and l or l[1].value):find('Make greet shout', 1, true) then return true end
    end
    return false
  end, 'an inlay hint naming the new conversation')
  check(changed > 0, 'observatory/didChangeInsights was sent')
  -- Lenses are fetched again on the client's own events (here, by hand).
  wait(10000, function()
    vim.lsp.codelens.refresh({ bufnr = buf })
    vim.wait(100)
    local l = vim.lsp.codelens.get(buf)
    table.sort(l, function(a, b) return a.range.start.line < b.range.start.line end)
    return l[1] and l[1].command.title:match('^2 agent conversations') ~= nil
  end, 'the lens to count the new conversation')
  local h = request('textDocument/hover', { textDocument = { uri = uri }, position = { line = 11, character = 0 } })
  observed.live_hover = h and h.contents.value or ''
  check(observed.live_hover:find('Make greet shout', 1, true), 'hover shows the live conversation')
  observed.messages = messages
end)

harness.conclude(ok, err)
