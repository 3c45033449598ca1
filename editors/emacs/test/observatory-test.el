;;; observatory-test.el --- Tests of observatory.el against the real server -*- lexical-binding: t -*-

;; SPDX-License-Identifier: MIT

;;; Commentary:

;; Run by test/run.sh: `emacs -Q --batch' with OBSERVATORY_BIN naming the
;; `observatory' binary.  Every test works in one temporary setting: a HOME
;; holding a copy of the ai-blame fixture's .claude directory, a data
;; directory, and a copy of the fixture project as the workspace.

;;; Code:

(require 'ert)
(require 'observatory)
(require 'eglot)

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
      (setq observatory-command (list (getenv "OBSERVATORY_BIN") "lsp")
            observatory-test--dir dir)))
  (concat observatory-test--dir "work/simple/"))

(defun observatory-test--teardown ()
  "Stop the server and the platform it started; remove the setting."
  (when observatory-test--dir
    (observatory-shutdown)
    (let ((pidfile (concat observatory-test--dir "data/daemon.pid")))
      (when (file-exists-p pidfile)
        (with-temp-buffer
          (insert-file-contents pidfile)
          (signal-process (string-to-number (buffer-string)) 'SIGTERM))))
    (sleep-for 0.5)
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

(ert-deftest observatory-blame-annotates-example-py ()
  (with-current-buffer (observatory-test--blamed-buffer)
    (let ((annotations (observatory-test--annotations)))
      (message "annotations: %S" annotations)
      (message "runs: %S" (mapcar (lambda (ov) (let ((r (overlay-get ov 'observatory-run))) (list (plist-get r :start_line) (plist-get r :end_line) (plist-get r :session_id) (plist-get r :tool)))) (overlays-in (point-min) (point-max))))
      (should annotations)
      (dolist (a annotations)
        (should (string-match-p "\\`◆ .+ · .+ ago\\'" (cdr a)))))
    (observatory-test--goto-attributed-line)
    (let ((run (observatory-run-at-point)))
      (should (equal (plist-get run :session_id) observatory-test--session))
      (observatory--show-current)
      ;; `format-mode-line' draws nothing in batch: check the form and its text.
      (should (equal header-line-format '(:eval (observatory-header-line))))
      (should (string-match-p (regexp-quote (plist-get run :conversation_title))
                              (observatory-header-line))))))

(provide 'observatory-test)
;;; observatory-test.el ends here
