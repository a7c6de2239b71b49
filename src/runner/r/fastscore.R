# The `fastscore` R library of tensorcell's R runner: FastScore's model API over the server's cells and
# pools. The runner attaches it as package:fastscore, so `library(fastscore)` in a model works as in
# FastScore. Values are JSON-compatible R values (jsonlite's mapping). It calls the runner's `.tc_call`.
#
#   Cell(name)                 a named value shared by every runner of every script (Python ones too)
#   Pool(name)                 a named map of values, shared the same way
#   Get(cell) / Get(pool, key)             the value, NULL when unset
#   Set(cell, v) / Set(pool, key, v)       sets it
#   Update(cell, fn) / Update(pool, key, fn)
#                              sets it to fn(current) atomically across all runners (compare and swap,
#                              retried), and returns the new value
#   Keys(pool), Delete(pool, key)
#   emit(x)                    one output of the current action (AI.SCORE replies with every emitted value)

Cell <- function(name) structure(list(name = .tc_bstr(name)), class = "fastscore_cell")

Pool <- function(name) structure(list(name = .tc_bstr(name)), class = "fastscore_pool")

.fs_field <- function(key) .tc_bstr(as.character(key))

Get <- function(x, key = NULL) {
  ops <- if (inherits(x, "fastscore_pool")) .fs_ops(x, key) else .fs_ops(x)
  .tc_load(ops$read())
}

# The JSON text each cell (and pool field) held when this runner last saw it: an update swaps against it
# directly, one round trip; a swap that finds another value answers with it, and the update retries.
.fs_seen <- new.env()

.fs_ops <- function(x, key) {
  if (inherits(x, "fastscore_pool")) {
    field <- .fs_field(key)
    id <- paste0("p\u0001", x$name, "\u0001", field)
    read <- function() .tc_call(list(op = "pool_get", name = x$name, field = field))
    swap <- function(old, new) .tc_call(list(op = "pool_swap", name = x$name, field = field, old = old, new = new))
  } else {
    id <- paste0("c\u0001", x$name)
    read <- function() .tc_call(list(op = "cell_get", name = x$name))
    swap <- function(old, new) .tc_call(list(op = "cell_swap", name = x$name, old = old, new = new))
  }
  list(id = id, read = function() { t <- read(); .fs_remember(id, t); t }, swap = swap)
}

.fs_remember <- function(id, text) {
  # Only a hint: past this many cells and fields, start over.
  if (length(.fs_seen) >= 100000) .fs_forget()
  assign(id, list(text), envir = .fs_seen)
}

.fs_forget <- function() rm(list = ls(.fs_seen, all.names = TRUE), envir = .fs_seen)

.fs_update <- function(ops, fn) {
  known <- exists(ops$id, envir = .fs_seen, inherits = FALSE)
  old <- if (known) get(ops$id, envir = .fs_seen)[[1]] else ops$read()
  repeat {
    value <- tryCatch(fn(.tc_load(old)), error = function(e) {
      if (!known) stop(e)
      structure(list(), class = "fs_stale")
    })
    if (inherits(value, "fs_stale")) {
      # `fn` failed on a value that may no longer be current: read and try again before failing.
      known <- FALSE
      old <- ops$read()
      next
    }
    r <- ops$swap(old, .tc_dump(value))
    .fs_remember(ops$id, r[[2]])
    if (isTRUE(r[[1]])) return(value)
    known <- FALSE
    old <- r[[2]]
  }
}

.fs_set <- function(ops, value) {
  new <- .tc_dump(value)
  old <- if (exists(ops$id, envir = .fs_seen, inherits = FALSE)) get(ops$id, envir = .fs_seen)[[1]] else ops$read()
  repeat {
    r <- ops$swap(old, new)
    .fs_remember(ops$id, r[[2]])
    if (isTRUE(r[[1]])) return(invisible(NULL))
    old <- r[[2]]
  }
}

Set <- function(x, ...) {
  a <- list(...)
  if (inherits(x, "fastscore_pool")) .fs_set(.fs_ops(x, a[[1]]), a[[2]]) else .fs_set(.fs_ops(x), a[[1]])
}

Update <- function(x, ...) {
  a <- list(...)
  if (inherits(x, "fastscore_pool")) .fs_update(.fs_ops(x, a[[1]]), a[[2]]) else .fs_update(.fs_ops(x), a[[1]])
}

Keys <- function(pool) {
  vapply(.tc_call(list(op = "pool_keys", name = pool$name)), .tc_text, "")
}

Delete <- function(pool, key) {
  id <- .fs_ops(pool, key)$id
  if (exists(id, envir = .fs_seen, inherits = FALSE)) rm(list = id, envir = .fs_seen)
  isTRUE(.tc_call(list(op = "pool_delete", name = pool$name, field = .fs_field(key))))
}

emit <- function(x) {
  .tc$emitted[[length(.tc$emitted) + 1]] <- x
  invisible(x)
}
