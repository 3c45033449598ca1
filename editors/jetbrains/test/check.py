"""Checks of the JetBrains route that can run without a JetBrains IDE (editors/check.sh).

The LSP4IJ template: its files, template.json against template.schema.json (written
from LSP4IJ's template reader), settings.schema.json against docs/lsp.md, settings.json
and initializationOptions.json against it, the command per OS, and the default command
started as LSP4IJ starts it (a command line split on spaces, `observatory` from PATH)
for an LSP session against the real binary with the template's options.
The plugin: plugin.xml well formed, LSP4IJ's extension points, every class it names
present in the Kotlin sources, the template's file patterns, and the custom requests
the Kotlin interface declares all documented in docs/lsp.md.
"""

import json
import re
import shlex
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import jsonschema  # noqa: E402

import lsp_check as lc  # noqa: E402
from lsp_check import check  # noqa: E402

HERE = Path(__file__).resolve().parent.parent
TEMPLATE = HERE / "template"
PLUGIN = HERE / "plugin"


def template() -> dict:
    print("jetbrains: LSP4IJ template")
    for name in ("template.json", "settings.json", "settings.schema.json",
                 "initializationOptions.json", "README.md"):
        check(f"template/{name} exists", (TEMPLATE / name).is_file())
    t = json.loads((TEMPLATE / "template.json").read_text())
    schema = json.loads((HERE / "test/template.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = [f"{list(e.path)}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(t)]
    check("template.json is valid against template.schema.json", not errors, "; ".join(errors))
    check("template.json's id is 'observatory'", t.get("id") == "observatory")
    for os_key, args in t["programArgs"].items():
        argv = shlex.split(args)
        exe = "observatory.exe" if os_key == "windows" else "observatory"
        check(f"programArgs.{os_key} runs `{exe} lsp`", argv == [exe, "lsp"], args)
    patterns = {p for m in t["fileTypeMappings"] for p in m["fileType"]["patterns"]}
    # The languages whose functions the server names (server/symbols): at least these.
    for ext in ("rs", "py", "pyi", "ts", "tsx", "js", "jsx", "mjs", "go"):
        check(f"template maps *.{ext}", f"*.{ext}" in patterns)
    check("no pattern maps two languages",
          len(patterns) == sum(len(m["fileType"]["patterns"]) for m in t["fileTypeMappings"]))
    lc.check_settings_schema()
    settings = json.loads((TEMPLATE / "settings.json").read_text())
    init = json.loads((TEMPLATE / "initializationOptions.json").read_text())
    lc.check_settings_value("template/settings.json", settings)
    lc.check_settings_value("template/initializationOptions.json", init)
    check("settings.json and initializationOptions.json agree",
          settings.get("observatory") == init, f"{settings} vs {init}")
    # LSP4IJ splits the command line and starts it (PATH from the IDE's environment).
    lc.handshake("jetbrains template", shlex.split(t["programArgs"]["default"]),
                 init_options=init, settings=settings,
                 show_document=True, code_lens_refresh=True)
    return t


def plugin(t: dict) -> None:
    print("jetbrains: plugin project")
    xml_path = PLUGIN / "src/main/resources/META-INF/plugin.xml"
    try:
        root = ET.parse(xml_path).getroot()
        check("plugin.xml is well-formed XML", True)
    except ET.ParseError as e:
        check("plugin.xml is well-formed XML", False, str(e))
        return
    check("plugin.xml's root is <idea-plugin>", root.tag == "idea-plugin")
    depends = [d.text for d in root.findall("depends")]
    check("plugin.xml depends on LSP4IJ", "com.redhat.devtools.lsp4ij" in depends, f"{depends}")
    lsp4ij = [e for e in root.findall("extensions")
              if e.get("defaultExtensionNs") == "com.redhat.devtools.lsp4ij"]
    check("plugin.xml has LSP4IJ extensions", len(lsp4ij) == 1)
    servers = [s for e in lsp4ij for s in e.findall("server")]
    check("one LSP4IJ <server id=\"observatory\"> with label and factoryClass",
          len(servers) == 1 and servers[0].get("id") == "observatory"
          and servers[0].get("label") and servers[0].get("factoryClass"))
    mappings = [m for e in lsp4ij for m in e.findall("fileNamePatternMapping")]
    check("every fileNamePatternMapping names the server",
          all(m.get("serverId") == "observatory" for m in mappings))
    plugin_map = {m.get("languageId"): m.get("patterns").split(";") for m in mappings}
    template_map = {m["languageId"]: m["fileType"]["patterns"] for m in t["fileTypeMappings"]}
    check("the plugin maps the template's file patterns", plugin_map == template_map)
    platform = [e for e in root.findall("extensions") if e.get("defaultExtensionNs") == "com.intellij"]
    check("a <toolWindow id=\"Observatory\">",
          any(w.get("id") == "Observatory" for e in platform for w in e.findall("toolWindow")))
    sources = {p: p.read_text() for p in (PLUGIN / "src/main/kotlin").rglob("*.kt")}
    declared = {}
    for text in sources.values():
        package = re.search(r"^package ([\w.]+)", text, re.M).group(1)
        for m in re.finditer(r"^(?:private )?(?:data )?(?:class|interface|object) (\w+)", text, re.M):
            declared[f"{package}.{m.group(1)}"] = True
    named = [el.get(attr) for el in root.iter() for attr in
             ("factoryClass", "instance", "serviceImplementation", "class", "implementationClass")
             if el.get(attr)]
    for cls in named:
        check(f"plugin.xml's {cls} is declared in the Kotlin sources", cls in declared)
    all_kt = "\n".join(sources.values())
    requests = re.findall(r'@JsonRequest\("([^"]+)"\)', all_kt)
    docs = (lc.REPO / "docs/lsp.md").read_text()
    check("the Kotlin API declares observatory/search, conversations, conversation, blame, status",
          {"observatory/search", "observatory/conversations", "observatory/conversation",
           "observatory/blame", "observatory/status"} <= set(requests), f"{requests}")
    for r in requests:
        check(f"{r} is documented in docs/lsp.md", f"### `{r}`" in docs)
    commands = set(re.findall(r'(?:runCommand\([^,]+,|openConversation\(project,)\s*"(observatory\.\w+)"', all_kt))
    commands |= set(re.findall(r'runCommand\(project, "(observatory\.\w+)"', all_kt))
    check("the plugin runs observatory.openConversation and observatory.search",
          {"observatory.openConversation", "observatory.search"} <= commands, f"{commands}")
    documented = set(re.findall(r"^\| `(observatory\.\w+)` \|", docs, re.M))
    check("the commands the plugin runs are docs/lsp.md's", commands <= documented,
          f"{sorted(commands - documented)}")
    gradle = (PLUGIN / "build.gradle.kts").read_text()
    check("build.gradle.kts applies the IntelliJ Platform Gradle Plugin 2.x",
          'id("org.jetbrains.intellij.platform")' in gradle)
    check("build.gradle.kts depends on LSP4IJ", 'plugin("com.redhat.devtools.lsp4ij"' in gradle)


if __name__ == "__main__":
    plugin(template())
    sys.exit(lc.summary("jetbrains"))
