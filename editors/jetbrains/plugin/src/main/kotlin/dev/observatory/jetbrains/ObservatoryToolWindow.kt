package dev.observatory.jetbrains

import com.google.gson.JsonObject
import com.intellij.openapi.application.ApplicationManager
import com.intellij.openapi.fileEditor.FileEditorManager
import com.intellij.openapi.fileEditor.FileEditorManagerEvent
import com.intellij.openapi.fileEditor.FileEditorManagerListener
import com.intellij.openapi.project.DumbAware
import com.intellij.openapi.project.Project
import com.intellij.openapi.wm.ToolWindow
import com.intellij.openapi.wm.ToolWindowFactory
import com.intellij.ui.SearchTextField
import com.intellij.ui.components.JBLabel
import com.intellij.ui.components.JBList
import com.intellij.ui.components.JBScrollPane
import com.intellij.ui.content.ContentFactory
import java.awt.BorderLayout
import java.awt.event.KeyAdapter
import java.awt.event.KeyEvent
import java.awt.event.MouseAdapter
import java.awt.event.MouseEvent
import javax.swing.DefaultListModel
import javax.swing.JPanel

/**
 * The Observatory tool window: the conversations that wrote the current file (or the
 * project's latest, with no file open), a search field over every conversation, and the
 * connection's state. Enter or a double click opens the conversation in an editor tab,
 * at the matching message for a search hit.
 */
class ObservatoryToolWindowFactory : ToolWindowFactory, DumbAware {
    override fun createToolWindowContent(project: Project, toolWindow: ToolWindow) {
        val panel = ObservatoryPanel(project)
        toolWindow.contentManager.addContent(ContentFactory.getInstance().createContent(panel, null, false))
        project.messageBus.connect(toolWindow.disposable).subscribe(
            FileEditorManagerListener.FILE_EDITOR_MANAGER,
            object : FileEditorManagerListener {
                override fun selectionChanged(event: FileEditorManagerEvent) = panel.showConversations()
            },
        )
        panel.showConversations()
    }
}

private data class Row(val label: String, val sessionId: String, val messageUuid: String? = null) {
    override fun toString() = label
}

private class ObservatoryPanel(private val project: Project) : JPanel(BorderLayout()) {
    private val search = SearchTextField(true)
    private val rows = DefaultListModel<Row>()
    private val list = JBList(rows)
    private val status = JBLabel(" ")

    init {
        add(search, BorderLayout.NORTH)
        add(JBScrollPane(list), BorderLayout.CENTER)
        add(status, BorderLayout.SOUTH)
        search.textEditor.addActionListener {
            val q = search.text.trim()
            if (q.isEmpty()) showConversations() else showSearch(q)
        }
        list.addMouseListener(object : MouseAdapter() {
            override fun mouseClicked(e: MouseEvent) {
                if (e.clickCount == 2) openSelected()
            }
        })
        list.addKeyListener(object : KeyAdapter() {
            override fun keyPressed(e: KeyEvent) {
                if (e.keyCode == KeyEvent.VK_ENTER) openSelected()
            }
        })
    }

    private fun openSelected() {
        val row = list.selectedValue ?: return
        Observatory.openConversation(project, row.sessionId, row.messageUuid)
    }

    /** `observatory/conversations` for the file in the editor, else the latest overall. */
    fun showConversations() {
        val file = FileEditorManager.getInstance(project).selectedFiles.firstOrNull()
        val params = if (file != null && file.isInLocalFileSystem) {
            Observatory.params("textDocument" to Observatory.params("uri" to file.toNioPath().toUri().toString()))
        } else {
            Observatory.params("limit" to 50)
        }
        val what = file?.name ?: "all projects"
        load("Conversations · $what") { api ->
            api.conversations(params).thenApply { page ->
                page.getAsJsonArray("items").map { it.asJsonObject }.map { c ->
                    Row("${c.str("title")} · ${c.str("started_at").take(10)}", c.str("session_id"))
                }
            }
        }
    }

    /** `observatory/search`: one row per hit, opening at its message. */
    private fun showSearch(query: String) = load("Search · $query") { api ->
        api.search(Observatory.params("query" to query, "limit" to 50)).thenApply { page ->
            page.getAsJsonArray("hits").map { it.asJsonObject }.map { h ->
                val snippet = h.str("snippet").replace(Regex("</?mark>"), "").replace(Regex("\\s+"), " ")
                Row("${snippet.take(100)} — ${h.str("conversation_title").take(50)}", h.str("session_id"), h.str("message_uuid"))
            }
        }
    }

    private fun load(title: String, fetch: (ObservatoryServerApi) -> java.util.concurrent.CompletableFuture<List<Row>>) {
        status.text = "$title · loading…"
        Observatory.server(project)
            .thenCompose { api -> fetch(api).thenCombine(api.status(JsonObject())) { r, s -> r to s } }
            .whenComplete { result, error ->
                ApplicationManager.getApplication().invokeLater {
                    rows.clear()
                    if (error != null) {
                        // The server's message is ready to show (e.g. a refused search query).
                        status.text = error.cause?.message ?: error.message
                        return@invokeLater
                    }
                    val (found, state) = result
                    found.forEach(rows::addElement)
                    val indexing = if (state.get("indexing")?.asBoolean == true) " · indexing" else ""
                    status.text = "$title · ${found.size} · ${state.str("state")}$indexing"
                }
            }
    }
}

private fun JsonObject.str(key: String): String =
    get(key)?.takeIf { !it.isJsonNull }?.asString ?: ""
