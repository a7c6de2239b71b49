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
  if (inherits(x, "fastscore_pool")) {
    .tc_load(.tc_call(list(op = "pool_get", name = x$name, field = .fs_field(key))))
  } else {
    .tc_load(.tc_call(list(op = "cell_get", name = x$name)))
  }
}

Set <- function(x, ...) {
  a <- list(...)
  if (inherits(x, "fastscore_pool")) {
    field <- .fs_field(a[[1]])
    new <- .tc_dump(a[[2]])
    repeat {
      old <- .tc_call(list(op = "pool_get", name = x$name, field = field))
      if (isTRUE(.tc_call(list(op = "pool_swap", name = x$name, field = field, old = old, new = new)))) break
    }
  } else {
    new <- .tc_dump(a[[1]])
    repeat {
      old <- .tc_call(list(op = "cell_get", name = x$name))
      if (isTRUE(.tc_call(list(op = "cell_swap", name = x$name, old = old, new = new)))) break
    }
  }
  invisible(NULL)
}

Update <- function(x, ...) {
  a <- list(...)
  if (inherits(x, "fastscore_pool")) {
    field <- .fs_field(a[[1]])
    fn <- a[[2]]
    repeat {
      old <- .tc_call(list(op = "pool_get", name = x$name, field = field))
      value <- fn(.tc_load(old))
      if (isTRUE(.tc_call(list(op = "pool_swap", name = x$name, field = field, old = old,
                               new = .tc_dump(value))))) return(value)
    }
  } else {
    fn <- a[[1]]
    repeat {
      old <- .tc_call(list(op = "cell_get", name = x$name))
      value <- fn(.tc_load(old))
      if (isTRUE(.tc_call(list(op = "cell_swap", name = x$name, old = old, new = .tc_dump(value))))) {
        return(value)
      }
    }
  }
}

Keys <- function(pool) {
  vapply(.tc_call(list(op = "pool_keys", name = pool$name)), .tc_text, "")
}

Delete <- function(pool, key) {
  isTRUE(.tc_call(list(op = "pool_delete", name = pool$name, field = .fs_field(key))))
}

emit <- function(x) {
  .tc$emitted[[length(.tc$emitted) + 1]] <- x
  invisible(x)
}
