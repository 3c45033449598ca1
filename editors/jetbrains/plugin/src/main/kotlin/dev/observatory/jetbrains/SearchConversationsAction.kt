package dev.observatory.jetbrains

import com.intellij.openapi.actionSystem.AnAction
import com.intellij.openapi.actionSystem.AnActionEvent
import com.intellij.openapi.actionSystem.CommonDataKeys
import com.intellij.openapi.ui.Messages

/**
 * Tools > Observatory: Search Conversations. The server's `observatory.search` writes
 * the results page (symbol changes first, then full-text hits) and shows it.
 */
class SearchConversationsAction : AnAction() {
    override fun actionPerformed(e: AnActionEvent) {
        val project = e.project ?: return
        val selected = e.getData(CommonDataKeys.EDITOR)?.selectionModel?.selectedText
        val query = Messages.showInputDialog(project, "Search every conversation for:", "Observatory", null, selected, null)
            ?.trim()?.takeIf { it.isNotEmpty() } ?: return
        Observatory.runCommand(project, "observatory.search", query)
    }
}
