package dev.observatory.jetbrains

import com.google.gson.JsonElement
import com.google.gson.JsonObject
import com.intellij.openapi.application.ApplicationManager
import com.intellij.openapi.fileEditor.OpenFileDescriptor
import com.intellij.openapi.project.Project
import com.intellij.openapi.ui.Messages
import com.intellij.openapi.vfs.LocalFileSystem
import com.redhat.devtools.lsp4ij.LanguageServerManager
import org.eclipse.lsp4j.ExecuteCommandParams
import java.util.concurrent.CompletableFuture

/** Reaching the running `observatory lsp` of a project, and what the tool window asks of it. */
object Observatory {
    /** The project's Observatory server, started by LSP4IJ when needed. */
    fun server(project: Project): CompletableFuture<ObservatoryServerApi> =
        LanguageServerManager.getInstance(project).getLanguageServer(SERVER_ID).thenApply { item ->
            item?.server as? ObservatoryServerApi
                ?: throw IllegalStateException("Observatory's language server is not running (is `observatory` installed?)")
        }

    /**
     * Runs one of the server's commands. The server writes the document (a conversation,
     * a list, search results) and asks LSP4IJ to show it (`window/showDocument`); the
     * result's `{path, line, shown}` opens it here when the client did not.
     */
    fun runCommand(project: Project, command: String, vararg args: String?) {
        server(project)
            .thenCompose { it.workspaceService.executeCommand(ExecuteCommandParams(command, args.filterNotNull())) }
            .whenComplete { result, error ->
                if (error != null) {
                    ApplicationManager.getApplication().invokeLater {
                        Messages.showErrorDialog(project, error.cause?.message ?: error.message, "Observatory")
                    }
                    return@whenComplete
                }
                val shown = shownDocument(result)
                if (shown != null && !shown.shown) openAt(project, shown.path, shown.line)
            }
    }

    fun openConversation(project: Project, sessionId: String, messageUuid: String? = null) =
        runCommand(project, "observatory.openConversation", sessionId, messageUuid)

    /** `Shown` (`{uri, path, line, shown}`), also inside `SearchResults.document`. */
    data class Shown(val path: String, val line: Int, val shown: Boolean)

    fun shownDocument(result: Any?): Shown? {
        var o = (result as? JsonElement)?.takeIf { it.isJsonObject }?.asJsonObject ?: return null
        o.getAsJsonObject("document")?.let { o = it }
        val path = o.get("path")?.asString ?: return null
        return Shown(path, o.get("line")?.asInt ?: 0, o.get("shown")?.asBoolean ?: false)
    }

    fun openAt(project: Project, path: String, line: Int) = ApplicationManager.getApplication().invokeLater {
        val file = LocalFileSystem.getInstance().refreshAndFindFileByPath(path) ?: return@invokeLater
        OpenFileDescriptor(project, file, line, 0).navigate(true)
    }

    fun params(vararg pairs: Pair<String, Any?>): JsonObject = JsonObject().apply {
        for ((k, v) in pairs) when (v) {
            null -> {}
            is String -> addProperty(k, v)
            is Number -> addProperty(k, v)
            is JsonElement -> add(k, v)
            else -> addProperty(k, v.toString())
        }
    }
}
