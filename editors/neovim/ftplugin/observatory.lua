-- Observatory's own documents (conversations, lists, search pages): Markdown,
-- read-only, with <CR>/gx on a link or session id opening that conversation.
if vim.b.did_ftplugin then return end
vim.b.did_ftplugin = true

vim.wo.conceallevel = 2
vim.wo.wrap = true
vim.wo.linebreak = true
if not pcall(vim.treesitter.start, 0, 'markdown') then vim.bo.syntax = 'markdown' end
-- Each message's `<a id="…"></a>` anchor is for jumping to it, not for reading.
local anchors = vim.api.nvim_create_namespace('observatory.anchors')
vim.api.nvim_buf_clear_namespace(0, anchors, 0, -1)
for i, line in ipairs(vim.api.nvim_buf_get_lines(0, 0, -1, false)) do
  if line:match('^<a id="[^"]*"></a>$') then
    vim.api.nvim_buf_set_extmark(0, anchors, i - 1, 0, { conceal_lines = '' })
  end
end
local o = require('observatory').options()
if not o or o.keymaps then require('observatory.links').map(0) end
vim.b.undo_ftplugin = 'setlocal conceallevel< wrap< linebreak<'
