package dev.observatory.jetbrains

import com.google.gson.JsonObject
import com.intellij.openapi.project.Project
import com.redhat.devtools.lsp4ij.LanguageServerFactory
import com.redhat.devtools.lsp4ij.server.ProcessStreamConnectionProvider
import com.redhat.devtools.lsp4ij.server.StreamConnectionProvider
import org.eclipse.lsp4j.jsonrpc.services.JsonRequest
import org.eclipse.lsp4j.services.LanguageServer
import java.net.URI
import java.util.concurrent.CompletableFuture

/** The id LSP4IJ knows the server by (plugin.xml's `<server id>` and the mappings). */
const val SERVER_ID = "observatory"

/**
 * Observatory's own requests (docs/lsp.md, "Requests"). Results are kept as JSON: the
 * tool window reads a few fields and the shapes belong to the server.
 */
interface ObservatoryServerApi : LanguageServer {
    /** `{query, project?, limit?, offset?}` → `SearchPage` (`hits`, `next_offset`). */
    @JsonRequest("observatory/search")
    fun search(params: JsonObject): CompletableFuture<JsonObject>

    /** `{textDocument?: {uri}, project?, q?, limit?, cursor?}` → `ConversationPage` (`items`). */
    @JsonRequest("observatory/conversations")
    fun conversations(params: JsonObject): CompletableFuture<JsonObject>

    /** `{id, cursor?, limit?}` → `ConversationDetail`. */
    @JsonRequest("observatory/conversation")
    fun conversation(params: JsonObject): CompletableFuture<JsonObject>

    /** `{uri}` → `DocumentBlame` or `{runs: [], pending: true}`. */
    @JsonRequest("observatory/blame")
    fun blame(params: JsonObject): CompletableFuture<JsonObject>

    /** `{}` → `ConnectionStatus` (`state`, `url`, `message`, `indexing`). */
    @JsonRequest("observatory/status")
    fun status(params: JsonObject): CompletableFuture<JsonObject>
}

/** Registered with LSP4IJ's `server` extension point. */
class ObservatoryServerFactory : LanguageServerFactory {
    override fun createConnectionProvider(project: Project): StreamConnectionProvider =
        ObservatoryConnection(project)

    override fun getServerInterface(): Class<out LanguageServer> = ObservatoryServerApi::class.java
}

/** `<binary> lsp` over stdio, started in the project's directory. */
class ObservatoryConnection(project: Project) : ProcessStreamConnectionProvider() {
    init {
        setCommands(listOf(ObservatorySettings.getInstance().state.binary, "lsp"))
        project.basePath?.let { setWorkingDirectory(it) }
    }

    /** The settings of docs/lsp.md, as the template's initializationOptions.json has them. */
    override fun getInitializationOptions(rootUri: URI?): Any =
        ObservatorySettings.getInstance().initializationOptions()
}
