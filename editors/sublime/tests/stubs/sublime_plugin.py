"""A stand-in for Sublime Text's `sublime_plugin` module: the base classes."""


class CommandInputHandler:
    pass


class TextInputHandler(CommandInputHandler):
    pass


class ListInputHandler(CommandInputHandler):
    pass


class WindowCommand:
    def __init__(self, window):
        self.window = window


class TextCommand:
    def __init__(self, view):
        self.view = view


class EventListener:
    pass


class ViewEventListener:
    def __init__(self, view):
        self.view = view
