# what: the kernel keyring (keyctl, add_key, request_key), shared kernel state and a long history of bugs
# status: success
# reason: none
# denied: add_key, keyctl join session, request_key
# arch: x86_64
# prelude: syscall
import os


attempt("add_key", 248, b"user", b"se-escape", b"payload", L(7), L(-2))  # KEY_SPEC_PROCESS_KEYRING
attempt("keyctl join session", 250, L(1), b"se-escape")  # KEYCTL_JOIN_SESSION_KEYRING
attempt("request_key", 249, b"user", b"se-escape", None, L(0))
