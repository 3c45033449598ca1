"""The package's resource files: valid (Sublime's JSON with comments for settings and
commands, strict JSON for sublime-package.json), a settings schema that is valid JSON
Schema and accepts the defaults, settings that match docs/lsp.md, and palette entries
that name commands plugin.py defines."""

import inspect
import json
import os
import re
import unittest

import jsonschema  # installed by tests/run.sh; missing is a failure, not a skip

from support import PACKAGE_DIR, REPO, load_plugin, read_sublime_json

plugin = load_plugin()


def documented_settings():
    """The keys of the Settings table in docs/lsp.md."""
    with open(os.path.join(REPO, "docs", "lsp.md"), encoding="utf-8") as f:
        text = f.read()
    section = text.split("## Settings", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(\w+)` \|", section, re.M))


def command_name(class_name):
    """Sublime's name for a command class: ObservatorySearchCommand -> observatory_search."""
    base = class_name[: -len("Command")]
    return re.sub(r"(?<!^)(?=[A-Z])", "_", base).lower()


class Files(unittest.TestCase):
    def setUp(self):
        with open(os.path.join(PACKAGE_DIR, "sublime-package.json"), encoding="utf-8") as f:
            self.package = json.load(f)  # strict JSON
        self.schemas = [c["schema"] for c in self.package["contributions"]["settings"]]
        self.settings_schema = self.schemas[0]
        self.settings = read_sublime_json("LSP-observatory.sublime-settings")

    def test_contributed_schemas_are_valid_json_schema(self):
        self.assertEqual(
            [c["file_patterns"] for c in self.package["contributions"]["settings"]],
            [["/LSP-observatory.sublime-settings"], ["/LSP.sublime-settings"], ["/*.sublime-project"]],
        )
        for schema in self.schemas:
            jsonschema.Draft7Validator.check_schema(schema)
        self.assertEqual(self.settings_schema["$id"], "sublime://settings/LSP-observatory")
        self.assertIn({"$ref": "sublime://settings/LSP-plugin-base"}, self.settings_schema["allOf"])

    def test_default_settings_validate_against_the_schema(self):
        options = self.settings_schema["definitions"]["InitializationOptions"]
        jsonschema.validate(self.settings["initializationOptions"], options)
        jsonschema.validate(plugin.initialization_options(self.settings["initializationOptions"]), options)
        jsonschema.validate(self.settings["settings"], options)
        with self.assertRaises(jsonschema.ValidationError):
            jsonschema.validate({"inlayHints": "sometimes"}, options)
        with self.assertRaises(jsonschema.ValidationError):
            jsonschema.validate({"codeLenses": True}, options)  # a typo is flagged
        binary = self.settings_schema["definitions"]["PluginConfig"]["properties"]["binary"]
        jsonschema.validate(self.settings["binary"], binary)

    def test_schema_and_defaults_follow_docs_lsp_md(self):
        documented = documented_settings()
        self.assertIn("inlayHints", documented)
        options = self.settings_schema["definitions"]["InitializationOptions"]["properties"]
        self.assertEqual(set(options), documented)
        self.assertEqual(options["inlayHints"]["enum"], ["off", "currentLine", "all"])
        self.assertTrue(set(self.settings["initializationOptions"]) <= documented)

    def test_settings_file_is_an_lsp_client_configuration(self):
        for key in ("command", "selector", "env", "initializationOptions", "settings", "binary"):
            self.assertIn(key, self.settings)
        self.assertEqual(self.settings["command"][0], "$observatory_binary")
        self.assertIn("observatory_binary", plugin.Observatory.additional_variables())

    def test_palette_entries_name_commands_the_plugin_defines(self):
        entries = read_sublime_json("LSP-observatory.sublime-commands")
        commands = {
            command_name(name): cls
            for name, cls in vars(plugin).items()
            if inspect.isclass(cls) and name.startswith("Observatory") and name.endswith("Command")
        }
        seen = set()
        for entry in entries:
            self.assertTrue(entry["caption"].startswith(("Observatory: ", "Preferences: LSP-observatory")), entry)
            if entry["command"] == "edit_settings":
                self.assertEqual(entry["args"]["base_file"], "${packages}/LSP-observatory/LSP-observatory.sublime-settings")
                continue
            self.assertIn(entry["command"], commands, entry)
            params = inspect.signature(commands[entry["command"]].run).parameters
            for arg in entry.get("args", {}):
                self.assertIn(arg, params, entry)
            seen.add(entry["command"])
        # Every user-facing command is in the palette (the cursor one is internal).
        self.assertEqual(set(commands) - seen, {"observatory_did_change_cursor"})

    def test_settings_file_name_matches_the_plugin(self):
        self.assertTrue(os.path.isfile(os.path.join(PACKAGE_DIR, plugin.SETTINGS_FILE)))


if __name__ == "__main__":
    unittest.main()
