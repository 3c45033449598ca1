"""A stand-in for Sublime Text's `sublime` module: what plugin.py calls, recording the
side effects (clipboard, status messages, dialogs) for the tests to assert."""

ENCODED_POSITION = 1
calls = []  # (name, args) of every recorded side effect
clipboard = ""
resources = {}  # pattern -> list of resource paths, for find_resources
_settings = {}


def reset():
    global clipboard
    calls.clear()
    clipboard = ""
    resources.clear()
    _settings.clear()


class Settings:
    def __init__(self, values=None):
        self._values = dict(values or {})

    def get(self, key, default=None):
        return self._values.get(key, default)

    def set(self, key, value):
        self._values[key] = value


def load_settings(name):
    return _settings.setdefault(name, Settings())


def set_settings(name, values):
    _settings[name] = Settings(values)


def status_message(text):
    calls.append(("status_message", text))


def message_dialog(text):
    calls.append(("message_dialog", text))


def error_message(text):
    calls.append(("error_message", text))


def set_clipboard(text):
    global clipboard
    clipboard = text
    calls.append(("set_clipboard", text))


def get_clipboard():
    return clipboard


def set_timeout(fn, delay=0):
    fn()


def set_timeout_async(fn, delay=0):
    fn()


def find_resources(pattern):
    return list(resources.get(pattern, []))


def platform():
    return "linux"


class Region:
    def __init__(self, a, b=None):
        self.a = a
        self.b = a if b is None else b

    def empty(self):
        return self.a == self.b

    def begin(self):
        return min(self.a, self.b)

    def end(self):
        return max(self.a, self.b)


class QuickPanelItem:
    def __init__(self, trigger, details="", annotation="", kind=None):
        self.trigger = trigger
        self.details = details
        self.annotation = annotation
        self.kind = kind


class View:
    def __init__(self, file_name=None, text="", window=None):
        self._file_name = file_name
        self._text = text
        self._window = window
        self._sel = [Region(0)]
        self.status = {}

    def file_name(self):
        return self._file_name

    def window(self):
        return self._window

    def is_valid(self):
        return True

    def sel(self):
        return self._sel

    def set_cursor(self, line, character=0):
        offset = sum(len(x) + 1 for x in self._text.split("\n")[:line]) + character
        self._sel = [Region(offset)]

    def rowcol(self, point):
        before = self._text[:point]
        return before.count("\n"), len(before) - (before.rfind("\n") + 1)

    def substr(self, region):
        return self._text[region.begin():region.end()]

    def word(self, point):
        import re

        for m in re.finditer(r"\w+", self._text):
            if m.start() <= point <= m.end():
                return Region(m.start(), m.end())
        return Region(point)

    def set_status(self, key, text):
        self.status[key] = text

    def run_command(self, name, args=None):
        calls.append(("view.run_command", name, args))


class Window:
    def __init__(self, folders=None):
        self._folders = list(folders or [])
        self.view = None
        self.opened = []
        self.commands = []
        self.quick_panels = []

    def folders(self):
        return self._folders

    def active_view(self):
        return self.view

    def open_file(self, name, flags=0):
        self.opened.append((name, flags))

    def run_command(self, name, args=None):
        self.commands.append((name, args))

    def show_quick_panel(self, items, on_select, flags=0, selected_index=-1, on_highlight=None, placeholder=""):
        self.quick_panels.append((items, on_select, placeholder))


def active_window():
    return None
