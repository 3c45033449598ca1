package dev.observatory.jetbrains

import com.google.gson.JsonObject
import com.intellij.openapi.application.ApplicationManager
import com.intellij.openapi.components.PersistentStateComponent
import com.intellij.openapi.components.State
import com.intellij.openapi.components.Storage
import com.intellij.openapi.options.Configurable
import com.intellij.openapi.ui.ComboBox
import com.intellij.ui.components.JBTextField
import com.intellij.util.ui.FormBuilder
import javax.swing.JComponent

/** Settings > Tools > Observatory: the binary and the server settings a user changes. */
@State(name = "ObservatorySettings", storages = [Storage("observatory.xml")])
class ObservatorySettings : PersistentStateComponent<ObservatorySettings.Data> {
    data class Data(
        var binary: String = "observatory",
        /** A team platform instead of the local one; empty for the local one. */
        var url: String = "",
        var inlayHints: String = "currentLine",
    )

    private var data = Data()

    override fun getState(): Data = data

    override fun loadState(state: Data) {
        data = state
    }

    /** `initializationOptions` for `observatory lsp`: docs/lsp.md's keys. The API key
     *  is not kept here: set OBSERVATORY_API_KEY for the IDE, as the server reads it. */
    fun initializationOptions(): JsonObject = JsonObject().apply {
        addProperty("codeLens", true)
        addProperty("hover", true)
        addProperty("codeActions", true)
        addProperty("inlayHints", data.inlayHints)
        if (data.url.isNotBlank()) addProperty("url", data.url.trim())
    }

    companion object {
        fun getInstance(): ObservatorySettings =
            ApplicationManager.getApplication().getService(ObservatorySettings::class.java)
    }
}

class ObservatorySettingsConfigurable : Configurable {
    private val binary = JBTextField()
    private val url = JBTextField()
    private val inlayHints = ComboBox(arrayOf("off", "currentLine", "all"))

    override fun getDisplayName() = "Observatory"

    override fun createComponent(): JComponent = FormBuilder.createFormBuilder()
        .addLabeledComponent("observatory binary:", binary)
        .addLabeledComponent("Platform URL (empty: this machine's):", url)
        .addLabeledComponent("Inlay hints:", inlayHints)
        .addComponentFillVertically(javax.swing.JPanel(), 0)
        .panel

    private val state get() = ObservatorySettings.getInstance().state

    override fun isModified() = binary.text != state.binary || url.text != state.url ||
        inlayHints.item != state.inlayHints

    /** Takes effect when the server restarts (LSP console > Restart, or reopening the project). */
    override fun apply() {
        state.binary = binary.text.ifBlank { "observatory" }
        state.url = url.text
        state.inlayHints = inlayHints.item
    }

    override fun reset() {
        binary.text = state.binary
        url.text = state.url
        inlayHints.item = state.inlayHints
    }
}
