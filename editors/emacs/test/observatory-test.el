;;; observatory-test.el --- Tests of observatory.el against the real server -*- lexical-binding: t -*-

;; SPDX-License-Identifier: MIT

;;; Commentary:

;; Run by test/run.sh: `emacs -Q --batch' with OBSERVATORY_BIN naming the
;; `observatory' binary.  Every test works in one temporary setting: a HOME
;; holding a copy of the ai-blame fixture's .claude directory, a data
;; directory, and a copy of the fixture project as the workspace.

;;; Code:

(require 'ert)
(require 'cl-lib)
(require 'observatory)
(require 'eglot)
(require 'json)

(defconst observatory-test--here
  (file-name-directory (or load-file-name buffer-file-name)))

(defconst observatory-test--fixture
  (expand-file-name "../../../../shared/fixtures/transcripts/ai-blame/tests/examples/"
                    observatory-test--here))

(defconst observatory-test--session "2c965cfd-41e4-4e31-8339-2986ebced03c"
  "The fixture's conversation that wrote example.py.")

(defvar observatory-test--dir nil
  "The temporary directory of the setting, once made.")

(defun observatory-test--copy (from to)
  "Copy directory FROM to TO, writable."
  (make-directory (file-name-directory (directory-file-name to)) t)
  (copy-directory from to nil t t)
  (call-process "chmod" nil nil nil "-R" "u+w" to))

(defun observatory-test--setup ()
  "Make the setting (once) and return the workspace directory."
  (unless observatory-test--dir
    (let ((dir (file-name-as-directory (file-truename (make-temp-file "observatory-el" t)))))
      (observatory-test--copy (concat observatory-test--fixture "simple-home/.claude")
                              (concat dir "home/.claude"))
      (observatory-test--copy (concat observatory-test--fixture "simple")
                              (concat dir "work/simple"))
      (setq process-environment
            (append (list (concat "HOME=" dir "home")
                          (concat "OBSERVATORY_DATA_DIR=" dir "data")
                          "OBSERVATORY_URL" "CLAUDE_CONFIG_DIR"
                          (concat "PATH=" dir "bin:" (getenv "PATH")))
                    process-environment))
      (make-directory (concat dir "bin"))
      (push (concat dir "bin") exec-path)
      ;; A `claude' that records its working directory and arguments.
      (with-temp-file (concat dir "bin/claude")
        (insert "#!/bin/sh\npwd > \"$0.log.tmp\"\nprintf '%s\\n' \"$@\" >> \"$0.log.tmp\"\n"
                "mv \"$0.log.tmp\" \"$0.log\"\n"))
      (set-file-modes (concat dir "bin/claude") #o755)
      (setq observatory-command (list (getenv "OBSERVATORY_BIN") "lsp")
            observatory-test--dir dir)))
  (concat observatory-test--dir "work/simple/"))

(defun observatory-test--teardown ()
  "Stop the server and the platform it started; remove the setting."
  (when observatory-test--dir
    (dolist (buffer (buffer-list))
      (when (string-prefix-p observatory-test--dir
                             (or (buffer-local-value 'default-directory buffer) ""))
        (with-current-buffer buffer (set-buffer-modified-p nil))
        (kill-buffer buffer)))
    (observatory-shutdown)
    ;; The platform the server started outlives it, by design: stop it.
    (let ((serve (concat observatory-test--dir "data/serve.json")))
      (if (not (file-exists-p serve))
          (message "no platform was started (no %s)" serve)
        (let ((pid (alist-get 'pid (json-read-file serve))))
          (signal-process pid 'SIGTERM)
          (with-timeout (10 (message "the platform (pid %s) did not stop" pid))
            (while (process-attributes pid) (sleep-for 0.1))))))
    (delete-directory observatory-test--dir t)
    (setq observatory-test--dir nil)))

(add-hook 'kill-emacs-hook #'observatory-test--teardown)

(defun observatory-test--wait (what predicate &optional seconds)
  "Wait up to SECONDS (30) for PREDICATE to return non-nil; fail naming WHAT."
  (let ((deadline (+ (float-time) (or seconds 30)))
        value)
    (while (and (not (setq value (funcall predicate)))
                (< (float-time) deadline))
      (accept-process-output nil 0.1)
      ;; Idle timers do not run in batch while waiting: run the due ones.
      (when (timerp observatory--change-timer)
        (timer-event-handler observatory--change-timer)))
    (or value (ert-fail (format "timed out waiting for %s" what)))))

(defun observatory-test--annotations ()
  "The annotations drawn in the current buffer: (LINE . TEXT)."
  (let (out)
    (dolist (ov (overlays-in (point-min) (point-max)))
      (when-let ((text (or (overlay-get ov 'before-string) (overlay-get ov 'after-string))))
        (push (cons (line-number-at-pos (overlay-start ov)) (string-trim text)) out)))
    (sort out (lambda (a b) (< (car a) (car b))))))

(defun observatory-test--blamed-buffer ()
  "Visit example.py with `observatory-blame-mode' on, its annotations drawn."
  (let ((buffer (find-file-noselect (concat (observatory-test--setup) "example.py"))))
    (with-current-buffer buffer
      (unless observatory-blame-mode (observatory-blame-mode 1))
      (observatory-test--wait "annotations" #'observatory-test--annotations 60))
    buffer))

(defun observatory-test--goto-attributed-line ()
  "Move to the first line of the first attributed run."
  (goto-char (point-min))
  (forward-line (1- (plist-get (overlay-get (seq-find (lambda (ov) (overlay-get ov 'observatory-run))
                                                      (overlays-in (point-min) (point-max)))
                                            'observatory-run)
                               :start_line))))

(defun observatory-test--at-message-p (&optional uuid)
  "Whether point is at a message's first line, right after its anchor (of UUID)."
  (and (not (looking-at-p "^<a id=\\|^$"))
       (save-excursion
         (forward-line -1)
         (while (and (not (bobp)) (looking-at-p "^$")) (forward-line -1))
         (looking-at-p (concat "<a id=\"" (if uuid (regexp-quote uuid) "[-0-9a-f]+") "\">")))))

(defun observatory-test--goto-line (line)
  "Move to LINE and show its run as the mode would after a command."
  (goto-char (point-min))
  (forward-line (1- line))
  (observatory--show-current))

(ert-deftest observatory-blame-annotates-example-py ()
  ;; The fixture's example.py: lines 1-8 and 11-16 written by the Write of the
  ;; conversation's first prompt, lines 9-10 by an Edit of a later prompt.
  (with-current-buffer (observatory-test--blamed-buffer)
    (let ((annotations (observatory-test--annotations)))
      (message "annotations: %S" annotations)
      (dolist (a annotations)
        (should (string-match-p "\\`◆ \\([^\n]+\\) · [^·\n]+ ago\\'" (cdr a)))
        ;; The prompt is cut to 60 characters.
        (should (<= (length (match-string 1 (cdr a))) 60)))
      (should (equal (mapcar #'car annotations) '(1 9 11)))
      (should (string-prefix-p "◆ make some minor random test changes" (alist-get 9 annotations)))
      (should (string-prefix-p "◆ create some files for test purposes" (alist-get 1 annotations)))
      (should (string-prefix-p "◆ create some files for test purposes" (alist-get 11 annotations))))
    (observatory-test--goto-line 9)
    (let ((run (observatory-run-at-point)))
      (should (equal (plist-get run :session_id) observatory-test--session))
      (should (equal (plist-get run :tool) "Edit"))
      (should (equal (list (plist-get run :start_line) (plist-get run :end_line)) '(9 10)))
      ;; `format-mode-line' draws nothing in batch: check the form and its text.
      (should (equal header-line-format '(:eval (observatory-header-line))))
      (let ((header (observatory-header-line)))
        (message "header line on line 9: %s" header)
        ;; The change's own prompt, then the conversation's title: both are seen.
        (should (string-prefix-p " ◆ make some minor random test changes" header))
        (should (string-match-p " · [^·]+ ago · Edit — conversation: create some files for test purposes"
                                header))))
    (observatory-test--goto-line 1)
    (let ((header (observatory-header-line)))
      (message "header line on line 1: %s" header)
      (should (equal (plist-get (observatory-run-at-point) :tool) "Write"))
      (should (string-prefix-p " ◆ create some files for test purposes" header))
      ;; The prompt is the title: said once.
      (should (= 2 (length (split-string header "create some files")))))))

(ert-deftest observatory-blame-labels-merge-only-the-same-change ()
  ;; Adjacent runs share a label only with the same conversation, prompt and age.
  (with-temp-buffer
    (insert (mapconcat (lambda (n) (format "line %d" n)) (number-sequence 1 8) "\n") "\n")
    (let* ((at (format-time-string "%FT%TZ" (time-subtract nil 7200) t))
           (run (lambda (start end session prompt)
                  (list :start_line start :end_line end :session_id session
                        :conversation_title "First prompt of the conversation"
                        :prompt prompt :tool "Edit" :at at))))
      (observatory--draw (list (funcall run 1 2 "a" "Fix the parser")
                               (funcall run 3 3 "a" "Fix the parser")
                               (funcall run 4 4 "a" "Add a test")
                               (funcall run 5 5 "b" "Add a test")
                               (funcall run 6 6 "b" nil)
                               (funcall run 7 8 "b" (concat (make-string 70 ?x) "\n  more")))))
    (should (equal (observatory-test--annotations)
                   `((1 . "◆ Fix the parser · 2 h ago")
                     (4 . "◆ Add a test · 2 h ago")
                     (5 . "◆ Add a test · 2 h ago")
                     (6 . "◆ First prompt of the conversation · 2 h ago")
                     (7 . ,(concat "◆ " (make-string 59 ?x) "… · 2 h ago")))))
    (goto-char (point-min))
    (forward-line 5)
    (observatory--show-current)
    (should (equal (observatory-header-line)
                   " ◆ First prompt of the conversation · 2 h ago · Edit"))))

(ert-deftest observatory-header-line-says-what-is-known ()
  ;; Before the first answer nothing is known, and a file too large to attribute
  ;; says so: neither is "no agent wrote this line".
  (with-temp-buffer
    (insert "a\nb\n")
    (setq-local observatory-blame-mode t)
    (should (equal (observatory-header-line) " Observatory: attributing this file…"))
    (observatory--on-blame
     (list :version 0 :runs [] :skipped
           "Observatory: not attributed, the file is larger than 2048 KB (setting maxFileBytes)"))
    (should (string-match-p "larger than 2048 KB" (observatory-header-line)))
    (observatory--on-blame (list :version 0 :runs []))
    (should (equal (observatory-header-line) " No agent conversation wrote this line"))))

;; If it were attached through eglot, `observatory lsp' would replace the Python
;; server (eglot runs one server per major mode).  Here a stand-in for that server
;; stays the buffer's eglot server, and keeps answering, while the mode annotates.
(ert-deftest observatory-blame-mode-runs-beside-eglot ()
  (let* ((root (observatory-test--setup))
         (log (concat observatory-test--dir "fake-lsp.log"))
         (buffer (find-file-noselect (concat root "example.py"))))
    (with-current-buffer buffer
      (observatory-blame-mode -1)
      (should (eq major-mode 'python-mode))
      (let ((server (eglot--connect '(python-mode) (cons 'transient root) 'eglot-lsp-server
                                    (list "python3" (concat observatory-test--here "fake-lsp.py") log)
                                    "python")))
        (unwind-protect
            (progn
              (observatory-test--wait "eglot to manage the buffer" #'eglot-current-server)
              (observatory-blame-mode 1)
              (observatory-test--wait "annotations" #'observatory-test--annotations 60)
              (observatory-test--goto-attributed-line)
              (should (equal (plist-get (observatory-run-at-point) :session_id)
                             observatory-test--session))
              ;; eglot's server for the buffer, and its only one, is still the fake.
              (should (eq (eglot-current-server) server))
              (should (jsonrpc-running-p server))
              (should (equal (hash-table-values eglot--servers-by-project) (list (list server))))
              (should (equal (plist-get (jsonrpc-request server :textDocument/hover
                                                         (eglot--TextDocumentPositionParams))
                                        :contents)
                             "the fake server's hover"))
              ;; ...and Observatory's connection is another process.
              (should-not (eq (jsonrpc--process server)
                              (jsonrpc--process (observatory--connection))))
              (should (string-match-p "textDocument/didOpen"
                                      (with-temp-buffer (insert-file-contents log)
                                                        (buffer-string)))))
          (eglot-shutdown server))))))

(defun observatory-test--first-run-line ()
  "The first line of the first run, as the server last sent it."
  (seq-min (or (delq nil (mapcar (lambda (ov) (plist-get (overlay-get ov 'observatory-run)
                                                          :start_line))
                                 (overlays-in (point-min) (point-max))))
               '(0))))

(ert-deftest observatory-blame-follows-edits ()
  ;; Overlays move with the text by themselves: check the runs the server sends.
  (with-current-buffer (observatory-test--blamed-buffer)
    (let ((first (observatory-test--first-run-line)))
      (goto-char (point-min))
      (insert "# one\n# two\n")
      (observatory-test--wait "the server to attribute the edited buffer"
                              (lambda () (= (observatory-test--first-run-line) (+ first 2))))
      (should (= (car (car (observatory-test--annotations))) (+ first 2)))
      (goto-char (point-min))
      (delete-region (point) (progn (forward-line 2) (point)))
      (observatory-test--wait "the server to attribute the restored buffer"
                              (lambda () (= (observatory-test--first-run-line) first)))
      (set-buffer-modified-p nil))))

(ert-deftest observatory-blame-end-of-line-style ()
  (with-current-buffer (observatory-test--blamed-buffer)
    (observatory-blame-mode -1)
    (let ((observatory-blame-style 'end-of-line))
      (observatory-blame-mode 1)
      (observatory-test--wait "annotations" #'observatory-test--annotations 60)
      (let ((ov (seq-find (lambda (ov) (overlay-get ov 'after-string))
                          (overlays-in (point-min) (point-max)))))
        (should ov)
        (should (= (overlay-start ov) (save-excursion (goto-char (overlay-start ov)) (line-end-position))))
        (should-not (seq-some (lambda (ov) (overlay-get ov 'before-string))
                              (overlays-in (point-min) (point-max))))))
    (observatory-blame-mode -1)
    (should-not (observatory-test--annotations))
    (observatory-blame-mode 1)))

(ert-deftest observatory-names-a-missing-binary ()
  (let ((observatory-command '("no-such-observatory" "lsp"))
        (default-directory (observatory-test--setup)))
    (should (string-match-p "cannot find no-such-observatory"
                            (cadr (should-error (observatory--start default-directory)
                                                :type 'user-error))))))

(ert-deftest observatory-copy-prompt-fills-the-kill-ring ()
  (with-current-buffer (observatory-test--blamed-buffer)
    (observatory-test--goto-attributed-line)
    (observatory-copy-prompt)
    (should (equal (current-kill 0) (plist-get (observatory-run-at-point) :prompt)))
    (should (string-match-p "make some minor random test changes" (current-kill 0)))))

(ert-deftest observatory-describe-line-shows-prompt-and-reason ()
  (with-current-buffer (observatory-test--blamed-buffer)
    (observatory-test--goto-attributed-line)
    (let ((run (observatory-run-at-point)))
      (observatory-describe-line)
      (with-current-buffer "*observatory line*"
        (should (string-match-p (regexp-quote (plist-get run :prompt)) (buffer-string)))
        (should (string-match-p (regexp-quote (or (plist-get run :reason) "none stated"))
                                (buffer-string)))))))

(ert-deftest observatory-show-diff-shows-the-change-of-the-line ()
  (let (buffer)
    (with-current-buffer (observatory-test--blamed-buffer)
      (observatory-test--goto-line 9)
      (setq buffer (observatory-show-diff)))
    (with-current-buffer buffer
      (should buffer-read-only)
      (should (eq major-mode 'diff-mode))
      ;; The Edit of lines 9–10: the doctest the second prompt added.
      (should (string-match-p "^\\+.*greet(\"Alice\")" (buffer-string)))
      (should (string-match-p "^@@ " (buffer-string))))))

(ert-deftest observatory-list-changes-goes-to-the-chosen-run ()
  (with-current-buffer (observatory-test--blamed-buffer)
    (goto-char (point-min))
    (let (offered)
      (cl-letf (((symbol-function 'completing-read)
                 (lambda (_prompt table &rest _)
                   (setq offered (all-completions "" table))
                   ;; The run of lines 9–10 (its prompt is the second one).
                   (seq-find (lambda (c) (string-prefix-p "9–10 " c)) offered))))
        (observatory-list-changes))
      (should (seq-some (lambda (c) (string-match-p "\\`1–[0-9]+ +create some files" c)) offered))
      (should (= (line-number-at-pos) 9))
      (should (string-match-p "make some minor random test changes"
                              (plist-get (observatory-run-at-point) :prompt)))))
  (with-temp-buffer
    (should (string-match-p "observatory-blame-mode"
                            (cadr (should-error (observatory-list-changes) :type 'user-error))))))

(ert-deftest observatory-open-conversation-shows-markdown ()
  (observatory-test--setup)
  (let ((buffer (observatory-open-conversation observatory-test--session)))
    (with-current-buffer buffer
      (should buffer-read-only)
      (should (eq major-mode 'markdown-mode))
      (should (string-match-p "create some files for test purposes" (buffer-string)))
      ;; Markdown runs `text-mode-hook': a server document is still not annotated
      ;; (that started a second server, rooted in the data directory).
      (let ((text-mode-hook (list #'observatory-blame-mode)))
        (normal-mode))
      (should-not observatory-blame-mode)
      ;; Each message's anchor line is hidden.
      (goto-char (point-min))
      (should (re-search-forward "^<a id=" nil t))
      (should (invisible-p (match-beginning 0))))))

(ert-deftest observatory-open-conversation-at-the-line-opens-its-message ()
  (let (run buffer)
    (with-current-buffer (observatory-test--blamed-buffer)
      (observatory-test--goto-attributed-line)
      (setq run (observatory-run-at-point)
            buffer (call-interactively #'observatory-open-conversation)))
    (with-current-buffer buffer
      (should (> (line-number-at-pos) 1))
      ;; The message's heading is where the buffer was opened, not the top.
      (should (observatory-test--at-message-p (plist-get run :message_uuid))))))

(ert-deftest observatory-search-finds-and-opens-the-conversation ()
  (observatory-test--setup)
  (let (offered)
    (cl-letf (((symbol-function 'completing-read)
               (lambda (_prompt collection _pred _require _initial _hist def &rest _)
                 (setq offered (all-completions "" collection))
                 ;; RET on an empty input takes the best hit.
                 (should (equal def (car offered)))
                 ;; Offered best first, in the server's order.
                 (should (equal (cdr (assq 'display-sort-function
                                           (cdr (completion-metadata "" collection nil))))
                                #'identity))
                 (car offered))))
      (let ((buffer (observatory-search "yaml")))
        (should (seq-some (lambda (c) (string-match-p "create some files for test purposes" c))
                          offered))
        ;; The snippet's matched word is highlighted.
        (should (seq-some (lambda (c) (text-property-any 0 (length c) 'face 'observatory-match c))
                          offered))
        (with-current-buffer buffer
          (should buffer-read-only)
          (should (string-match-p "create some files for test purposes" (buffer-string)))
          ;; At the chosen message: its heading, after its anchor.
          (should (observatory-test--at-message-p)))))))

(ert-deftest observatory-blame-mode-passes-over-buffers-without-a-file ()
  "Enabled by `prog-mode-hook' in *scratch*, quietly; asked for there, an error."
  (with-temp-buffer
    (let ((prog-mode-hook '(observatory-blame-mode))
          (this-command nil))
      (emacs-lisp-mode)
      (should-not observatory-blame-mode))
    (let ((this-command 'observatory-blame-mode))
      (should-error (observatory-blame-mode 1) :type 'user-error)
      (should-not observatory-blame-mode))))

(ert-deftest observatory-a-status-notified-before-the-first-answer-stays ()
  "The server reported `connected' while the first status request was awaited."
  (let ((conn (make-symbol "conn")))
    (observatory--on-notification conn 'observatory/status '(:state "connected"))
    (observatory--first-status conn '(:state "connecting"))
    (should (equal (plist-get (gethash conn observatory--states) :state) "connected"))
    (let ((later (make-symbol "later")))
      (observatory--first-status later '(:state "connecting"))
      (should (equal (plist-get (gethash later observatory--states) :state) "connecting")))))

;; jsonrpc (Emacs 28) kills a stderr buffer not named as it expects, which
;; closed the server's stderr; the server must reconnect either way.
(ert-deftest observatory-keeps-the-server-log-and-reconnects ()
  (with-current-buffer (observatory-test--blamed-buffer)
    (let* ((conn (observatory--connection))
           (log (process-get (jsonrpc--process conn) 'jsonrpc-stderr))
           (serve (concat observatory-test--dir "data/serve.json"))
           (pid (alist-get 'pid (json-read-file serve))))
      (should (process-live-p (get-buffer-process log)))
      (signal-process pid 'SIGKILL)
      (observatory-test--wait
       "a new platform"
       (lambda ()
         (and (file-exists-p serve)
              (not (equal pid (ignore-errors (alist-get 'pid (json-read-file serve)))))
              (equal (plist-get (gethash conn observatory--states) :state) "connected")))
       60)
      (should (jsonrpc-running-p conn)))))

(ert-deftest observatory-a-refused-request-is-a-plain-message ()
  (observatory-test--setup)
  (let ((err (should-error (observatory--search-hits "gr*") :type 'user-error)))
    (should (string-match-p "\\`Observatory: .*too short a prefix" (cadr err)))))

(ert-deftest observatory-search-lists-hits-as-the-query-is-typed ()
  "What a completion UI asks while the query is typed: the hits of an unfinished word."
  (observatory-test--setup)
  (let* ((seen (make-hash-table :test #'equal))
         (table (observatory--live-hits seen))
         ;; A style that would keep only candidates containing the input as typed.
         (offered (let ((completion-styles '(substring))
                        (completion-ignore-case nil))
                    (completion-all-completions "GREE" table nil 4))))
    (when offered (setcdr (last offered) nil))
    ;; `GREE' is no word of the fixture: its last word is searched as a prefix, and
    ;; every hit is offered though none contains it as typed.
    (should (seq-some (lambda (c) (string-match-p "greet" c)) offered))
    (should (seq-every-p (lambda (c) (plist-get (gethash c seen) :session_id)) offered))
    ;; The query is left as typed, and a listed hit is a valid choice as it is.
    (should (equal (completion-try-completion "GREE" table nil 4) '("GREE" . 4)))
    (should (test-completion (car offered) table))
    ;; A query that does not parse yet lists nothing rather than failing.
    (should-not (completion-all-completions "GREE AND" table nil 8))
    ;; Choosing a hit opens its conversation at its message.
    (let ((buffer (observatory-search "GREE" (gethash (car offered) seen))))
      (with-current-buffer buffer
        (should (observatory-test--at-message-p))))))

(ert-deftest observatory-resume-runs-claude-in-the-project-root ()
  (with-current-buffer (observatory-test--blamed-buffer)
    (observatory-test--goto-attributed-line)
    ;; Without `claude' on PATH: a message, and no terminal left behind.
    (let ((exec-path '("/nonexistent")) (terms (length (buffer-list))))
      (should (string-match-p "claude is not on PATH"
                              (cadr (should-error (call-interactively #'observatory-resume)
                                                  :type 'user-error))))
      (should (= terms (length (buffer-list)))))
    (let* ((log (concat observatory-test--dir "bin/claude.log"))
           (buffer (call-interactively #'observatory-resume)))
      (should (eq (buffer-local-value 'major-mode buffer) 'term-mode))
      (observatory-test--wait "claude to run" (lambda () (file-exists-p log)))
      (should (equal (with-temp-buffer (insert-file-contents log) (split-string (buffer-string) "\n" t))
                     (list (directory-file-name (observatory-test--setup))
                           "--resume" observatory-test--session))))))

(provide 'observatory-test)
;;; observatory-test.el ends here
