-- Observatory's own documents (conversations, lists, search pages): Markdown,
-- read-only, with <CR>/gx on a link or session id opening that conversation.
if vim.b.did_ftplugin then return end
vim.b.did_ftplugin = true

vim.wo.conceallevel = 2
vim.wo.wrap = true
vim.wo.linebreak = true
if not pcall(vim.treesitter.start, 0, 'markdown') then vim.bo.syntax = 'markdown' end
local o = require('observatory').options()
if not o or o.keymaps then require('observatory.links').map(0) end
vim.b.undo_ftplugin = 'setlocal conceallevel< wrap< linebreak<'
