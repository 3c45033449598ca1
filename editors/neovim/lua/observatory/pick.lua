---@mod observatory.pick Choosing from a list: Telescope or fzf-lua when installed,
--- else vim.ui.select (which dressing.nvim, snacks.nvim… may replace).

local M = {}

---@alias observatory.Picker "auto"|"telescope"|"fzf-lua"|"select"

---@generic T
---@param items T[]
---@param prompt string
---@param format fun(item: T): string
---@param on_choice fun(item: T)
local function telescope(items, prompt, format, on_choice)
  local pickers = require('telescope.pickers')
  local finders = require('telescope.finders')
  local conf = require('telescope.config').values
  local actions = require('telescope.actions')
  local state = require('telescope.actions.state')
  pickers.new({}, {
    prompt_title = prompt,
    finder = finders.new_table({
      results = items,
      entry_maker = function(item)
        local text = format(item)
        return { value = item, display = text, ordinal = text }
      end,
    }),
    sorter = conf.generic_sorter({}),
    attach_mappings = function(bufnr)
      actions.select_default:replace(function()
        local entry = state.get_selected_entry()
        actions.close(bufnr)
        if entry then on_choice(entry.value) end
      end)
      return true
    end,
  }):find()
end

---@generic T
---@param items T[]
---@param prompt string
---@param format fun(item: T): string
---@param on_choice fun(item: T)
local function fzf(items, prompt, format, on_choice)
  local lines, by_line = {}, {}
  for i, item in ipairs(items) do
    local text = ('%d. %s'):format(i, format(item):gsub('\n', ' '))
    lines[i], by_line[text] = text, item
  end
  require('fzf-lua').fzf_exec(lines, {
    prompt = prompt .. '> ',
    actions = {
      default = function(selected)
        local item = selected and by_line[selected[1]]
        if item then on_choice(item) end
      end,
    },
  })
end

--- Lets the user choose one of `items`.
---@generic T
---@param items T[]
---@param opts { prompt: string, format: fun(item: T): string, picker?: observatory.Picker }
---@param on_choice fun(item: T)
function M.pick(items, opts, on_choice)
  if #items == 0 then
    -- Prompts already start with "Observatory …".
    vim.notify(opts.prompt .. ': nothing found', vim.log.levels.INFO)
    return
  end
  local which = opts.picker or 'auto'
  if (which == 'auto' or which == 'telescope') and pcall(require, 'telescope') then
    return telescope(items, opts.prompt, opts.format, on_choice)
  end
  if (which == 'auto' or which == 'fzf-lua') and pcall(require, 'fzf-lua') then
    return fzf(items, opts.prompt, opts.format, on_choice)
  end
  vim.ui.select(items, { prompt = opts.prompt, format_item = opts.format }, function(item)
    if item then on_choice(item) end
  end)
end

return M
