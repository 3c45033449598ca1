-- :Observatory {subcommand}. The language server starts only after
-- require("observatory").setup{}; this file costs nothing until then.
if vim.g.loaded_observatory then return end
vim.g.loaded_observatory = true

vim.api.nvim_create_user_command('Observatory', function(info)
  require('observatory.commands').dispatch(info)
end, {
  nargs = '*',
  bang = true,
  desc = 'Observatory: search, conversations, blame, open, copy, resume, diff, status, refresh',
  complete = function(lead, line) return require('observatory.commands').complete(lead, line) end,
})
