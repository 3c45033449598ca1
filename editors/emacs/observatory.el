;;; observatory.el --- Which Claude Code conversation wrote this line -*- lexical-binding: t -*-

;; Copyright (C) 2025 The Observatory authors
;; SPDX-License-Identifier: MIT

;; Author: The Observatory authors
;; Version: 0.1.0
;; Package-Requires: ((emacs "28.1"))
;; Keywords: tools, convenience, vc
;; URL: https://github.com/observatory-dev/observatory

;; This file is not part of GNU Emacs.

;;; Commentary:

;; Observatory indexes Claude Code transcripts.  This package talks to
;; its language server, `observatory lsp', over a connection of its own
;; (jsonrpc.el), so it runs beside whatever eglot or lsp-mode runs for
;; the buffer's major mode instead of replacing it.
;;
;; - `observatory-blame-mode' annotates each run of lines an agent wrote
;;   with the prompt that led to it (or its conversation's title) and its
;;   age, and shows the current line's prompt, tool and conversation in
;;   the header line (or the echo area).
;; - `observatory-search' searches every conversation; choosing a hit
;;   opens it.
;; - `observatory-open-conversation' shows a conversation as a read-only
;;   Markdown buffer.
;; - `observatory-resume' runs "claude --resume ID" in the project root.
;; - `observatory-copy-prompt' puts the prompt that led to the current
;;   line on the kill ring.
;; - `observatory-describe-line' shows that prompt and the assistant's
;;   stated reason.
;;
;; All attribution is computed by the server; this file only draws it.
;; See README.md for the reasons behind the design.

;;; Code:

(require 'jsonrpc)
(require 'project)
(require 'subr-x)
(require 'url-util)
(require 'parse-time)

(declare-function markdown-mode "ext:markdown-mode")
(declare-function term-mode "term")
(declare-function term-char-mode "term")

(defgroup observatory nil
  "Claude Code conversations beside the code they wrote."
  :group 'tools
  :prefix "observatory-")

(defcustom observatory-command '("observatory" "lsp")
  "The command that starts Observatory's language server, as a list.
Global flags such as \"--data-dir\" go before \"lsp\"."
  :type '(repeat string))

(defcustom observatory-settings nil
  "Settings sent to the server as `initializationOptions' (a plist).
For example (:url \"https://observatory.example.com\" :apiKey \"...\").
`:shim' is always sent as t: this package copies prompts and resumes
conversations itself."
  :type 'plist)

(defcustom observatory-blame-style 'above
  "Where `observatory-blame-mode' draws a run's annotation.
`above' puts a line above the run, like a code lens; `end-of-line'
puts it after the run's first line, like an inlay hint."
  :type '(choice (const :tag "A line above the run" above)
                 (const :tag "After the run's first line" end-of-line)))

(defcustom observatory-current-line-display 'header-line
  "Where `observatory-blame-mode' shows the current line's conversation."
  :type '(choice (const :tag "Header line" header-line)
                 (const :tag "Echo area" echo)
                 (const :tag "Nowhere" nil)))

(defcustom observatory-resume-function #'observatory-resume-in-term
  "Function that runs COMMAND with ARGS in `default-directory'.
Called by `observatory-resume' with the project root as
`default-directory'."
  :type 'function)

(defcustom observatory-change-delay 0.3
  "Seconds of quiet after an edit before the server is sent the buffer."
  :type 'number)

(defface observatory-annotation
  '((t :inherit shadow :slant italic))
  "Face of the annotations `observatory-blame-mode' draws.")

(defface observatory-match
  '((t :inherit match))
  "Face of the matched words in search snippets.")

(defconst observatory-protocol-version 1
  "The version of the server's extensions this package speaks.")

;;;; The connection

(defvar observatory-blame-mode)

(defvar observatory--connections (make-hash-table :test #'equal)
  "Live connections, by project root.")

(defun observatory--root ()
  "The root of the current project: its folder, or `default-directory'."
  (file-name-as-directory
   (file-truename
    (or (when-let ((project (project-current))) (project-root project))
        default-directory))))

(defun observatory--uri (file)
  "The file: URI of FILE."
  (concat "file://"
          (url-hexify-string (file-truename file) url-path-allowed-chars)))

(defun observatory--uri-file (uri)
  "The file name URI names."
  (url-unhex-string (string-remove-prefix "file://" uri)))

(defvar observatory--states (make-hash-table :test #'eq :weakness 'key)
  "Each connection's last `observatory/status', a plist.")

(defun observatory--connection (&optional root)
  "The connection for ROOT (the current project), started if needed."
  (let* ((root (or root (observatory--root)))
         (conn (gethash root observatory--connections)))
    (if (and conn (jsonrpc-running-p conn))
        conn
      (puthash root (observatory--start root) observatory--connections))))

(defun observatory--any-connection ()
  "A connection for requests about every conversation.
The current project's if it has one, else any running one, else one
started for the current project."
  (let ((root (observatory--root))
        found)
    (unless (gethash root observatory--connections)
      (maphash (lambda (_ conn) (when (jsonrpc-running-p conn) (setq found conn)))
               observatory--connections))
    (or found (observatory--connection root))))

(defun observatory--wait-connected (conn)
  "Wait up to 15 seconds while CONN is still connecting to the platform."
  (with-timeout (15)
    (while (equal (plist-get (gethash conn observatory--states) :state) "connecting")
      (accept-process-output nil 0.05))))

(defun observatory--start (root)
  "Start `observatory-command' for ROOT and initialize it."
  (unless (executable-find (car observatory-command))
    (user-error "Observatory: cannot find %s; install it or set `observatory-command'"
                (car observatory-command)))
  (let* ((default-directory root)
         (name (format "observatory %s" (abbreviate-file-name root)))
         (process (make-process
                   :name name
                   :command observatory-command
                   :connection-type 'pipe
                   :coding 'utf-8-emacs-unix
                   :noquery t
                   ;; Named as jsonrpc expects: it adopts "*NAME stderr*" and
                   ;; kills any other buffer of its hidden name, closing the pipe.
                   :stderr (get-buffer-create (format "*%s stderr*" name))))
         (conn (make-instance 'jsonrpc-process-connection
                              :name name
                              :process process
                              :events-buffer-scrollback-size 2000
                              :notification-dispatcher #'observatory--on-notification
                              :request-dispatcher #'observatory--on-request))
         (folder (list :uri (observatory--uri root)
                       :name (file-name-nondirectory (directory-file-name root))))
         (init (jsonrpc-request
                conn :initialize
                (list :processId (emacs-pid)
                      :clientInfo (list :name "observatory.el" :version "0.1.0")
                      :rootUri (plist-get folder :uri)
                      :workspaceFolders (vector folder)
                      :capabilities (list :workspace (list :workspaceFolders t))
                      :initializationOptions
                      (append '(:shim t) observatory-settings))))
         (version (plist-get (plist-get (plist-get (plist-get init :capabilities)
                                                             :experimental)
                                                  :observatory)
                             :protocolVersion)))
    (unless (equal version observatory-protocol-version)
      (display-warning 'observatory
                       (format "This package speaks protocol version %s; the server speaks %s"
                               observatory-protocol-version version)))
    (jsonrpc-notify conn :initialized (make-hash-table))
    (observatory--first-status conn (jsonrpc-request conn :observatory/status
                                                     (make-hash-table)))
    conn))

(defun observatory--first-status (conn status)
  "Record STATUS, the answer to CONN's first status request.
A status notification handled while it was awaited is newer, and stays:
with the platform already running, the server can report `connected'
before that answer, which says `connecting', arrives; kept, it made
every request wait out `observatory--wait-connected'."
  (unless (gethash conn observatory--states)
    (puthash conn status observatory--states)))

(defun observatory--request (method params &optional conn)
  "Send METHOD with PARAMS on CONN and wait for the result.
CONN defaults to `observatory--any-connection'."
  (let ((conn (or conn (observatory--any-connection))))
    (observatory--wait-connected conn)
    (condition-case err
        (jsonrpc-request conn method params)
      ;; The server's refusal ("not connected to the platform yet", a bad query)
      ;; is for the user, without jsonrpc's wrapping.
      (jsonrpc-error
       (user-error "Observatory: %s"
                   (or (alist-get 'jsonrpc-error-message (cdr err))
                       (error-message-string err)))))))

(defun observatory--execute (command &rest arguments)
  "Run the server's COMMAND with ARGUMENTS and return its result."
  (observatory--request :workspace/executeCommand
                        (list :command command :arguments (vconcat arguments))))

(defun observatory-shutdown ()
  "Stop every connection to the server."
  (interactive)
  (maphash (lambda (_ conn)
             (ignore-errors
               (jsonrpc-request conn :shutdown nil :timeout 3)
               (jsonrpc-notify conn :exit nil)
               (with-timeout (2)
                 (while (jsonrpc-running-p conn) (accept-process-output nil 0.05))))
             (ignore-errors (jsonrpc-shutdown conn)))
           observatory--connections)
  (clrhash observatory--connections))

(add-hook 'kill-emacs-hook #'observatory-shutdown)

(defun observatory--on-notification (conn method params)
  "Handle the server's notification METHOD with PARAMS on CONN."
  (pcase method
    ('observatory/status (puthash conn params observatory--states))
    ('observatory/didChangeInsights
     (let ((file (observatory--uri-file (plist-get params :uri))))
       (dolist (buffer (buffer-list))
         (with-current-buffer buffer
           (when (and observatory-blame-mode buffer-file-name
                      (equal (file-truename buffer-file-name) file))
             (observatory--refresh))))))
    ('window/showMessage
     (message "%s" (plist-get params :message)))))

(defun observatory--on-request (_conn method _params)
  "Answer the server's request METHOD: workspace refreshes are accepted."
  (pcase method
    ((or 'workspace/codeLens/refresh 'workspace/inlayHint/refresh) nil)
    ('window/showDocument (list :success :json-false))
    ('workspace/configuration [])
    (_ (signal 'jsonrpc-error '((jsonrpc-error-code . -32601)
                                (jsonrpc-error-message . "method not handled"))))))

;;;; Documents

(defvar-local observatory--version 0
  "The version of the buffer the server has.")

(defvar-local observatory--change-timer nil
  "Timer that sends the buffer after an edit.")

(defvar-local observatory--root-dir nil
  "The project root whose connection has this buffer.")

(defun observatory--text ()
  "The whole buffer's text."
  (save-restriction
    (widen)
    (buffer-substring-no-properties (point-min) (point-max))))

(defun observatory--document ()
  "The buffer as a `textDocument' parameter."
  (list :uri (observatory--uri buffer-file-name)))

(defun observatory--did-open ()
  "Tell the server about this buffer."
  (setq observatory--root-dir (observatory--root)
        observatory--version 1)
  (jsonrpc-notify (observatory--connection observatory--root-dir)
                  :textDocument/didOpen
                  (list :textDocument
                        (list :uri (observatory--uri buffer-file-name)
                              :languageId (string-remove-suffix
                                           "-mode" (symbol-name major-mode))
                              :version observatory--version
                              :text (observatory--text)))))

(defun observatory--did-close ()
  "Tell the server this buffer is closed."
  (when-let ((conn (gethash observatory--root-dir observatory--connections)))
    (when (jsonrpc-running-p conn)
      (jsonrpc-notify conn :textDocument/didClose
                      (list :textDocument (observatory--document))))))

(defun observatory--after-change (&rest _)
  "Send the buffer once the edits pause."
  (when (timerp observatory--change-timer)
    (cancel-timer observatory--change-timer))
  (setq observatory--change-timer
        (run-with-idle-timer observatory-change-delay nil
                             #'observatory--did-change (current-buffer))))

(defun observatory--did-change (buffer)
  "Send BUFFER's whole text to the server."
  (when (buffer-live-p buffer)
    (with-current-buffer buffer
      (when-let ((conn (and observatory-blame-mode
                            (gethash observatory--root-dir observatory--connections))))
        (setq observatory--version (1+ observatory--version))
        (jsonrpc-notify conn :textDocument/didChange
                        (list :textDocument
                              (list :uri (observatory--uri buffer-file-name)
                                    :version observatory--version)
                              :contentChanges
                              (vector (list :text (observatory--text)))))))))

;;;; Blame

(defvar-local observatory--current nil
  "The run the current line belongs to, as last shown.")

(defvar-local observatory--blamed nil
  "Whether an attribution of this buffer arrived.
Nil before the first, the reason it was skipped (a string), or t.")

(defvar-local observatory--pending-retries 0
  "How many more times to ask for a blame the server has not computed.")

(defun observatory--plural (n unit)
  "N UNITs ago."
  (format "%d %s%s ago" n unit (if (= n 1) "" "s")))

(defun observatory--ago (at)
  "How long ago the ISO 8601 time AT was, in the server's words."
  (if (not at)
      "at an unknown time"
    (let ((secs (max 0 (floor (float-time
                               (time-subtract nil (parse-iso8601-time-string at)))))))
      (cond ((< secs 60) "just now")
            ((< secs 3600) (format "%d min ago" (/ secs 60)))
            ((< secs 86400) (format "%d h ago" (/ secs 3600)))
            ((< secs 2592000) (observatory--plural (/ secs 86400) "day"))
            ((< secs 31536000) (observatory--plural (/ secs 2592000) "month"))
            (t (observatory--plural (/ secs 31536000) "year"))))))

(defun observatory--one-line (text max)
  "TEXT on one line, cut to MAX characters with an ellipsis."
  (let ((one (string-join (split-string (or text "") "[ \t\n\r]+" t) " ")))
    (if (<= (length one) max)
        one
      (concat (string-trim-right (substring one 0 (max 0 (1- max)))) "…"))))

(defun observatory--name (run)
  "What names the change RUN: its prompt, else its conversation's title.
A conversation's title is its first prompt: naming every change by
it would label later changes with a request they were not made for."
  (let ((prompt (string-trim (or (plist-get run :prompt) ""))))
    (if (string-empty-p prompt)
        (or (plist-get run :conversation_title) "")
      prompt)))

(defun observatory--label (run)
  "The annotation of RUN: the prompt that led to it and its age."
  (format "◆ %s · %s" (observatory--one-line (observatory--name run) 60)
          (observatory--ago (plist-get run :at))))

(defun observatory--tooltip (run)
  "The tooltip of RUN: its whole prompt and its conversation."
  (let ((prompt (plist-get run :prompt))
        (title (concat "Conversation: "
                       (observatory--one-line (plist-get run :conversation_title) 100))))
    (if (string-empty-p (string-trim (or prompt "")))
        title
      (concat "Prompt: " (observatory--one-line prompt 300) "\n" title))))

(defun observatory--same-change-p (a b)
  "Return non-nil if A and B are one change: conversation, prompt, age."
  (and (equal (plist-get a :session_id) (plist-get b :session_id))
       (equal (observatory--name a) (observatory--name b))
       (equal (observatory--ago (plist-get a :at)) (observatory--ago (plist-get b :at)))))

(defun observatory--refresh ()
  "Ask the server for this buffer's attribution and draw it."
  (when-let ((buffer (current-buffer))
             (conn (gethash observatory--root-dir observatory--connections))
             ((jsonrpc-running-p conn)))
    (jsonrpc-async-request
     conn :observatory/blame (observatory--document)
     :success-fn (lambda (result)
                   (when (buffer-live-p buffer)
                     (with-current-buffer buffer
                       (observatory--on-blame result))))
     :error-fn (lambda (error)
                 (message "Observatory: %s" (plist-get error :message))))))

(defun observatory--on-blame (result)
  "Draw RESULT, an `observatory/blame' answer, or ask again if pending."
  (cond ((not observatory-blame-mode))
        ((eq (plist-get result :pending) t)
         (when (> observatory--pending-retries 0)
           (setq observatory--pending-retries (1- observatory--pending-retries))
           (let ((buffer (current-buffer)))
             (run-with-timer 0.5 nil
                             (lambda ()
                               (when (buffer-live-p buffer)
                                 (with-current-buffer buffer
                                   (when observatory-blame-mode
                                     (observatory--refresh)))))))))
        ((integerp (plist-get result :version))
         (when (= (plist-get result :version) observatory--version)
           (setq observatory--blamed (or (plist-get result :skipped) t))
           (observatory--draw (append (plist-get result :runs) nil))))))

(defun observatory--clear ()
  "Remove this package's overlays."
  (remove-overlays (point-min) (point-max) 'observatory t))

(defun observatory--draw (run-list)
  "Draw the annotations of RUN-LIST in place of the previous ones."
  (save-restriction
    (widen)
    (observatory--clear)
    (let (previous)
      (dolist (run (sort (copy-sequence run-list)
                         (lambda (a b) (< (plist-get a :start_line) (plist-get b :start_line)))))
        (save-excursion
          (goto-char (point-min))
          (forward-line (1- (plist-get run :start_line)))
          (let* ((start (point))
                 (indent (current-indentation))
                 (ov (make-overlay start
                                   (progn (forward-line (1+ (- (plist-get run :end_line)
                                                               (plist-get run :start_line))))
                                          (point))))
                 ;; A run continuing the previous one's conversation and prompt,
                 ;; at the same age, gets no label of its own.
                 (label (unless (and previous
                                     (= (1+ (plist-get previous :end_line))
                                        (plist-get run :start_line))
                                     (observatory--same-change-p previous run))
                          (propertize (observatory--label run)
                                      'face 'observatory-annotation))))
            (overlay-put ov 'observatory t)
            (overlay-put ov 'observatory-run run)
            (overlay-put ov 'help-echo (observatory--tooltip run))
            (when label
              (if (eq observatory-blame-style 'above)
                  (overlay-put ov 'before-string
                               (concat (make-string indent ?\s) label "\n"))
                (goto-char start)
                (let ((eol (make-overlay (line-end-position) (line-end-position))))
                  (overlay-put eol 'observatory t)
                  (overlay-put eol 'after-string (concat "  " label)))))))
        (setq previous run))))
  (setq observatory--current nil)
  (observatory--show-current))

(defun observatory-run-at-point ()
  "The attributed run at point (a plist from `observatory/blame'), or nil."
  (seq-some (lambda (ov) (overlay-get ov 'observatory-run))
            (overlays-at (if (and (eobp) (bolp) (not (bobp))) (1- (point)) (point)))))

;;;; The current line

(defvar-local observatory--saved-header-line nil
  "`header-line-format' before `observatory-blame-mode'.")

(defun observatory--describe-short (run)
  "RUN in one line: prompt, age, tool and conversation."
  (let ((name (observatory--one-line (observatory--name run) 100))
        (title (observatory--one-line (plist-get run :conversation_title) 80)))
    (concat "◆ " name " · " (observatory--ago (plist-get run :at))
            " · " (plist-get run :tool)
            ;; The title is often the first prompt: say it once.
            (unless (or (string-empty-p title)
                        (string-prefix-p (string-remove-suffix "…" name) title)
                        (string-prefix-p (string-remove-suffix "…" title) name))
              (concat " — conversation: " title)))))

(defun observatory-header-line ()
  "The header line of `observatory-blame-mode': the current line's conversation."
  (cond (observatory--current
         (concat " " (observatory--describe-short observatory--current)))
        ((stringp observatory--blamed) (concat " " observatory--blamed))
        (observatory--blamed " No agent conversation wrote this line")
        (t
         ;; Nothing is known yet: say why rather than that no agent wrote it.
         (let* ((conn (gethash observatory--root-dir observatory--connections))
                (status (and conn (gethash conn observatory--states)))
                (state (plist-get status :state)))
           (if (member state '("offline" "refused"))
               (format " Observatory: %s — %s" state
                       (observatory--one-line (plist-get status :message) 200))
             " Observatory: attributing this file…")))))

(defun observatory--show-current ()
  "Show the current line's conversation if it is not the one shown."
  (let ((run (observatory-run-at-point)))
    (unless (eq run observatory--current)
      (setq observatory--current run)
      (pcase observatory-current-line-display
        ('header-line (force-mode-line-update))
        ('echo (when (and run (not (active-minibuffer-window)))
                 (let ((message-log-max nil))
                   (message "%s" (observatory--describe-short run)))))))))

(defun observatory--document-p (file)
  "Whether FILE is one of the server's documents.
Those are written to the data directory's `editor' folder."
  (string-match-p "/editor/\\(conversation\\|conversations\\|search\\|change\\)-[^/]*\\.\\(md\\|diff\\)\\'"
                  file))

;;;###autoload
(define-minor-mode observatory-blame-mode
  "Show which Claude Code conversation wrote each line.
Each run of lines an agent wrote gets an annotation with the prompt
that led to it (the conversation's title when it has none) and its
age; the current line's prompt, tool and conversation are shown as
`observatory-current-line-display' says.  The buffer is sent to
`observatory lsp' over a connection of this package's own, beside any
eglot or lsp-mode server."
  :lighter " Obs"
  (cond
   ((not observatory-blame-mode)
    (remove-hook 'after-change-functions #'observatory--after-change t)
    (remove-hook 'post-command-hook #'observatory--show-current t)
    (remove-hook 'kill-buffer-hook #'observatory--did-close t)
    (when (timerp observatory--change-timer) (cancel-timer observatory--change-timer))
    (observatory--did-close)
    (observatory--clear)
    (when (equal header-line-format '(:eval (observatory-header-line)))
      (setq header-line-format observatory--saved-header-line)))
   ((not buffer-file-name)
    (setq observatory-blame-mode nil)
    ;; From a mode hook (`prog-mode-hook' runs in *scratch* too) such a buffer is
    ;; passed over; an error there stopped Emacs opening the files it was given.
    (when (eq this-command 'observatory-blame-mode)
      (user-error "Observatory: this buffer visits no file")))
   ((observatory--document-p buffer-file-name)
    ;; A conversation or page the server wrote (Markdown: `text-mode-hook' runs
    ;; there): annotating it would start a server rooted in the data directory.
    (setq observatory-blame-mode nil))
   (t
    (observatory--did-open)
    (setq observatory--pending-retries 20)
    (add-hook 'after-change-functions #'observatory--after-change nil t)
    (add-hook 'post-command-hook #'observatory--show-current nil t)
    (add-hook 'kill-buffer-hook #'observatory--did-close nil t)
    (when (eq observatory-current-line-display 'header-line)
      (setq observatory--saved-header-line header-line-format
            header-line-format '(:eval (observatory-header-line))))
    (observatory--refresh))))

;;;; Conversations

(defun observatory--run-or-error ()
  "The run at point, or an error."
  (or (observatory-run-at-point)
      (user-error "No agent conversation wrote this line")))

(defun observatory--read-session ()
  "A list of a session id and maybe a message uuid.
The current line's conversation at the message that wrote the line,
or one chosen among the file's conversations."
  (if-let ((run (observatory-run-at-point)))
      (list (plist-get run :session_id) (plist-get run :message_uuid))
    (let* ((params (if (and buffer-file-name observatory-blame-mode)
                       (list :textDocument (observatory--document) :limit 100)
                     (list :limit 100)))
           (conn (and observatory-blame-mode
                      (observatory--connection observatory--root-dir)))
           (items (append (plist-get (observatory--request :observatory/conversations
                                                           params conn)
                                     :items)
                          nil))
           (choices (mapcar (lambda (c)
                              (cons (format "%s  (%s)" (plist-get c :title)
                                            (observatory--ago (or (plist-get c :ended_at)
                                                                  (plist-get c :started_at))))
                                    (plist-get c :session_id)))
                            items)))
      (unless choices (user-error "No conversations"))
      (list (cdr (assoc (completing-read "Conversation: " (observatory--in-order choices) nil t
                                         nil nil (caar choices))
                        choices))))))

;;;###autoload
(defun observatory-open-conversation (session-id &optional message-uuid)
  "Show conversation SESSION-ID as a read-only Markdown buffer.
With MESSAGE-UUID, at that message.  Interactively, the current
line's conversation, or one of the file's conversations."
  (interactive (observatory--read-session))
  (observatory--show (apply #'observatory--execute "observatory.openConversation" session-id
                             (and message-uuid (list message-uuid)))
                      (lambda ()
                        (if (require 'markdown-mode nil t) (markdown-mode) (text-mode))
                        (observatory--hide-anchors))))

(defun observatory--show (shown mode)
  "Show SHOWN, a document the server wrote, read-only at its line.
MODE is called in its buffer to set it up.  Return the buffer."
  (let ((buffer (find-file-noselect (plist-get shown :path) t)))
    (with-current-buffer buffer
      (revert-buffer t t t)
      (funcall mode)
      (setq buffer-read-only t)
      (goto-char (point-min))
      (forward-line (or (plist-get shown :line) 0)))
    (let ((line (with-current-buffer buffer (point))))
      (pop-to-buffer buffer)
      (goto-char line)
      (ignore-errors (recenter 0)))
    buffer))

;;;###autoload
(defun observatory-show-diff ()
  "Show the change that wrote the current line, as the agent made it."
  (interactive)
  (let ((run (observatory--run-or-error)))
    (observatory--show (observatory--execute "observatory.showDiff" buffer-file-name
                                             (plist-get run :tool_use_id))
                       #'diff-mode)))

;;;###autoload
(defun observatory-list-changes ()
  "Go to a run of lines that agents wrote in this file, chosen from a list."
  (interactive)
  (let* ((runs (seq-uniq (delq nil (mapcar (lambda (ov) (overlay-get ov 'observatory-run))
                                           (overlays-in (point-min) (point-max))))))
         (runs (sort runs (lambda (a b) (< (plist-get a :start_line) (plist-get b :start_line)))))
         (choices (mapcar (lambda (run)
                            (let ((from (plist-get run :start_line))
                                  (to (plist-get run :end_line)))
                              (cons (format "%-9s %s · %s · %s"
                                            (if (= from to) from (format "%d–%d" from to))
                                            (observatory--one-line (observatory--name run) 70)
                                            (plist-get run :tool)
                                            (observatory--ago (plist-get run :at)))
                                    run)))
                          runs)))
    (unless choices
      (user-error "Observatory: %s"
                  (cond ((not observatory-blame-mode) "turn on `observatory-blame-mode' first")
                        ((stringp observatory--blamed) observatory--blamed)
                        (observatory--blamed "no agent conversation wrote this file")
                        (t "this file is still being attributed"))))
    (let ((run (cdr (assoc (completing-read "Change: " (observatory--in-order choices) nil t
                                            nil nil (caar choices))
                           choices))))
      (goto-char (point-min))
      (forward-line (1- (plist-get run :start_line)))
      (observatory--show-current))))

(defun observatory--hide-anchors ()
  "Hide each message's anchor line: it is for jumping to, not for reading."
  (save-excursion
    (goto-char (point-min))
    (while (re-search-forward "^<a id=\"[^\"]*\"></a>\n" nil t)
      (let ((ov (make-overlay (match-beginning 0) (match-end 0))))
        (overlay-put ov 'observatory t)
        (overlay-put ov 'invisible t)))))

(defun observatory--snippet (snippet)
  "SNIPPET on one line with its <mark>ed words highlighted."
  (let ((marked nil))
    (observatory--one-line
     (mapconcat (lambda (part)
                  (prog1 (if marked (propertize part 'face 'observatory-match) part)
                    (setq marked (not marked))))
                (split-string snippet "</?mark>")
                "")
     80)))

;;;###autoload
(defun observatory-search (query &optional hit)
  "Search every conversation for QUERY; open the chosen hit.
Interactively, the hits are listed as QUERY is typed, in completion
UIs that show candidates while typing (`fido-mode', `icomplete-mode',
vertico): choosing one opens it.  Entering the query itself lists all
its hits to choose from.  HIT, when given, is the hit already chosen."
  (interactive (observatory--read-search))
  (let ((hit (or hit (observatory--choose-hit query))))
    (observatory-open-conversation (plist-get hit :session_id)
                                   (plist-get hit :message_uuid))))

(defun observatory--search-hits (query &optional typing)
  "The hits for QUERY, as (CANDIDATE . HIT).
TYPING: QUERY is still being typed, so its last word may be unfinished."
  (let ((page (observatory--request :observatory/search
                                    (append (list :query query :limit 50)
                                            (and typing (list :typing t))))))
    (mapcar (lambda (hit)
              (cons (concat (observatory--snippet (plist-get hit :snippet))
                            (propertize
                             (format "  — %s · %s"
                                     (observatory--one-line (plist-get hit :conversation_title) 50)
                                     (observatory--ago (plist-get hit :at)))
                             'face 'shadow))
                    hit))
            (plist-get page :hits))))

(defun observatory--in-order (choices)
  "Return a completion table of CHOICES in their own order (best first)."
  (lambda (input pred action)
    (if (eq action 'metadata)
        '(metadata (display-sort-function . identity)
                   (cycle-sort-function . identity))
      (complete-with-action action choices input pred))))

(defun observatory--choose-hit (query)
  "Ask which of QUERY's hits to open and return it."
  (let ((choices (observatory--search-hits query)))
    (unless choices (user-error "No conversation mentions %s" query))
    ;; RET on an empty input takes the best hit, not nothing.
    (cdr (assoc (completing-read (format "Conversations about %s: " query)
                                 (observatory--in-order choices) nil t nil nil
                                 (caar choices))
                choices))))

(defun observatory--live-hits (seen)
  "A completion table of the hits of what is typed, searched as it is typed.
Each hit offered is put in the hash table SEEN under its candidate.
Its candidates do not complete the input, so the `observatory-hits'
completion style offers all of them (see `completion-category-defaults')."
  (let (last-input last-hits)
    (lambda (input pred action)
      (pcase action
        ('metadata '(metadata (category . observatory-hit)
                              (display-sort-function . identity)
                              (cycle-sort-function . identity)))
        (`(boundaries . ,_) nil)
        ;; A hit taken from the list is the input now: it is not searched for.
        ('lambda (and (gethash input seen) t))
        (_
         (unless (or (equal input last-input) (gethash input seen))
           ;; Set together once the search is done: UIs that complete while
           ;; typing (icomplete) abandon it when a key is pressed.
           (let ((hits (and (string-match-p "[[:alnum:]]" input)
                            ;; A query being typed may not parse yet (`foo AND').
                            (ignore-error jsonrpc-error
                              (observatory--search-hits input t)))))
             (setq last-input input
                   last-hits hits))
           (dolist (choice last-hits)
             (puthash (car choice) (cdr choice) seen)))
         (let ((candidates (all-completions "" (mapcar #'car last-hits) pred)))
           (if (eq action t) candidates (and candidates input))))))))

(defun observatory--read-search ()
  "Read a search: (QUERY HIT), HIT when a listed hit was chosen."
  ;; Connected before the first key, not while completing it.
  (observatory--wait-connected (observatory--any-connection))
  (let* ((symbol (thing-at-point 'symbol t))
         (seen (make-hash-table :test #'equal))
         (input (minibuffer-with-setup-hook
                    ;; After the completion UI's own setup (fido sets its styles and
                    ;; drops `completion-category-defaults'): other styles hand the
                    ;; table only part of the query, or drop the hits it returns.
                    (:append (lambda () (setq-local completion-styles '(observatory-hits))))
                  (completing-read (format-prompt "Search conversations" symbol)
                                   (observatory--live-hits seen) nil nil nil nil symbol))))
    (list input (gethash input seen))))

(defun observatory--hits-try (string _table _pred point)
  "Leave STRING (at POINT) as typed: a hit is chosen, not completed to."
  (cons string point))

(defun observatory--hits-all (string table pred _point)
  "Every hit TABLE lists for STRING (with PRED), none filtered out."
  (let ((all (all-completions string table pred)))
    (and all (nconc all 0))))

;; The style of the hits table, as eglot does for its own completions.
(add-to-list 'completion-styles-alist
             '(observatory-hits observatory--hits-try observatory--hits-all
                                "Every hit of a conversation search."))
(add-to-list 'completion-category-defaults '(observatory-hit (styles observatory-hits)))

;;;###autoload
(defun observatory-copy-prompt ()
  "Put the prompt that led to the current line on the kill ring."
  (interactive)
  (let ((prompt (plist-get (observatory--run-or-error) :prompt)))
    (unless prompt (user-error "No prompt is known for this change"))
    (kill-new prompt)
    (message "Copied the prompt: %s" (observatory--one-line prompt 80))))

;;;###autoload
(defun observatory-describe-line ()
  "Show the conversation, prompt and reason behind the current line."
  (interactive)
  (let ((run (observatory--run-or-error)))
    (with-help-window "*observatory line*"
      (princ (format "%s\n%s · %s\n\nPrompt:\n%s\n\nReason:\n%s\n"
                     (plist-get run :conversation_title)
                     (plist-get run :tool)
                     (observatory--ago (plist-get run :at))
                     (or (plist-get run :prompt) "unknown")
                     (or (plist-get run :reason) "none stated"))))))

;;;###autoload
(defun observatory-resume (session-id)
  "Resume conversation SESSION-ID in Claude Code, in the project root.
Interactively, the current line's conversation, or one of the file's."
  (interactive (list (car (observatory--read-session))))
  (let* ((root (observatory--root))
         (resume (observatory--execute "observatory.resumeConversation"
                                       session-id (directory-file-name root)))
         (default-directory (file-name-as-directory (or (plist-get resume :cwd) root))))
    (unless (executable-find (plist-get resume :command))
      (user-error "Observatory: cannot resume, %s is not on PATH (install Claude Code)"
                  (plist-get resume :command)))
    (funcall observatory-resume-function
             (plist-get resume :command)
             (append (plist-get resume :args) nil))))

(defun observatory-resume-in-term (command args)
  "Run COMMAND with ARGS in a `term' buffer and show it."
  (require 'term)
  (let ((buffer (apply #'make-term (format "claude %s" (string-join args " "))
                       command nil args)))
    (with-current-buffer buffer
      (term-mode)
      (term-char-mode))
    (pop-to-buffer buffer)
    buffer))

;;;###autoload
(defun observatory-status ()
  "Show how the server is connected to the platform."
  (interactive)
  (let ((status (jsonrpc-request (observatory--any-connection)
                                 :observatory/status (make-hash-table))))
    (message "Observatory: %s%s%s" (plist-get status :state)
             (if-let ((url (plist-get status :url))) (format " (%s)" url) "")
             (if-let ((why (plist-get status :message))) (concat " — " why) ""))))

;;;###autoload
(defvar observatory-command-map
  (let ((map (make-sparse-keymap)))
    (define-key map "b" #'observatory-blame-mode)
    (define-key map "s" #'observatory-search)
    (define-key map "o" #'observatory-open-conversation)
    (define-key map "r" #'observatory-resume)
    (define-key map "w" #'observatory-copy-prompt)
    (define-key map "d" #'observatory-describe-line)
    (define-key map "=" #'observatory-show-diff)
    (define-key map "l" #'observatory-list-changes)
    (define-key map "i" #'observatory-status)
    map)
  "Observatory's commands, for a prefix key: (global-set-key (kbd \"C-c o\") ...).")
;;;###autoload
(fset 'observatory-command-map observatory-command-map)

(provide 'observatory)
;;; observatory.el ends here
