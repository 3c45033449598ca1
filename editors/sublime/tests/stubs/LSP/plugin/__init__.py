"""A stand-in for sublimelsp's public API (`LSP.plugin`), as far as plugin.py uses it.

`sessions` maps a session name to the object LspTextCommand.session_by_name and
LspWindowCommand.session return: the tests put a fake (or a real server behind a fake)
there."""

registered = []
sessions = {}


class Request:
    def __init__(self, method, params=None, view=None, progress=False):
        self.method = method
        self.params = params
        self.view = view
        self.progress = progress


class Notification:
    def __init__(self, method, params=None):
        self.method = method
        self.params = params


class DottedDict:
    def __init__(self, d=None):
        self._d = dict(d or {})

    def get(self, path=None):
        if path is None:
            return self._d
        return self._d.get(path)

    def assign(self, d):
        self._d = dict(d)

    def set(self, path, value):
        self._d[path] = value


class ClientConfig:
    def __init__(self, name, command=None, init_options=None, env=None):
        self.name = name
        self.command = list(command or [])
        self.init_options = init_options if init_options is not None else DottedDict()
        self.env = dict(env or {})


class AbstractPlugin:
    def __init__(self, weaksession):
        self.weaksession = weaksession


class LspTextCommand:
    session_name = ""

    def __init__(self, view):
        self.view = view

    def session_by_name(self, name=None, capability_path=None):
        return sessions.get(name or self.session_name)


class LspWindowCommand:
    session_name = ""

    def __init__(self, window):
        self.window = window

    def session(self):
        return sessions.get(self.session_name)


def register_plugin(plugin, notify_listener=True):
    registered.append(plugin)


def unregister_plugin(plugin):
    registered.remove(plugin)


def uri_from_view(view):
    return "file://" + view.file_name()
