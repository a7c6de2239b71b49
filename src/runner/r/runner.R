# tensorcell's R script runner: one process per runner, started by the server as
#   Rscript -e <boot> tensorcell-runner <script key>
# with requests on standard input (the boot has read this code from it, then `.tc_in` is that connection;
# the server puts the fastscore library's source in `.tc_fastscore_src` in front of this file),
# replies on fd 3 (a pipe: R cannot open a socket by descriptor) and a shared-memory file (memfd) on fd 4.
# The frames and messages are those of docs/runners.md; the `fastscore` library (fastscore.R, attached as
# package:fastscore) gives models Cell, Pool, Get, Set, Update, emit.

suppressPackageStartupMessages(library(jsonlite))

.tc <- new.env()
.tc$out <- file("/dev/fd/3", "wb", raw = TRUE)
.tc$emitted <- list()
.tc$limit <- 0
.tc$module <- NULL
.tc$current <- NULL
SHM_MIN <- 4096L

# ---- frames ----------------------------------------------------------------------------------------------

.tc_read_exact <- function(n) {
  if (n == 0) return(raw(0))
  b <- readBin(.tc_in, "raw", n)
  if (length(b) < n) quit(save = "no", status = 0)  # the server closed the channel
  b
}

.tc_recv <- function() {
  h <- readBin(.tc_read_exact(8), "integer", 2, size = 4, endian = "little")
  body <- .tc_read_exact(h[1] - 4)
  hlen <- h[2]
  text <- rawToChar(body[seq_len(hlen)])
  Encoding(text) <- "UTF-8"
  header <- jsonlite::fromJSON(text, simplifyVector = FALSE)
  blobs <- if (length(body) > hlen) body[(hlen + 1):length(body)] else raw(0)
  list(header = header, blobs = blobs)
}

.tc_json <- function(x) {
  as.character(jsonlite::toJSON(x, auto_unbox = TRUE, null = "null", digits = NA, na = "null"))
}

.tc_send <- function(header, blobs = raw(0)) {
  h <- charToRaw(enc2utf8(.tc_json(header)))
  size <- as.integer(4 + length(h) + length(blobs))
  writeBin(c(writeBin(c(size, length(h)), raw(), size = 4, endian = "little"), h, blobs), .tc$out)
  flush(.tc$out)
}

# Byte strings travel as JSON strings whose code points are the bytes (latin-1).
.tc_bstr <- function(x) {
  b <- if (is.raw(x)) x else charToRaw(enc2utf8(as.character(x)))
  s <- rawToChar(b)
  Encoding(s) <- "latin1"
  enc2utf8(s)
}

.tc_bytes <- function(s) iconv(s, "UTF-8", "latin1", toRaw = TRUE)[[1]]

.tc_text <- function(s) {
  x <- rawToChar(.tc_bytes(s))
  Encoding(x) <- "UTF-8"
  x
}

.tc_shm_read <- function(off, n) {
  con <- file("/dev/fd/4", "rb")
  on.exit(close(con))
  seek(con, off)
  readBin(con, "raw", n)
}

.tc_shm_write <- function(off, data) {
  con <- file("/dev/fd/4", "r+b")
  on.exit(close(con))
  seek(con, off, rw = "write")
  writeBin(data, con)
}

.tc_blob <- function(ref, blobs) {
  if (!is.null(ref[["$shm"]])) {
    return(.tc_shm_read(ref[["$shm"]][[1]], ref[["$shm"]][[2]]))
  }
  off <- ref[["$blob"]][[1]]
  n <- ref[["$blob"]][[2]]
  if (n == 0) raw(0) else blobs[(off + 1):(off + n)]
}

# A call back into the server; its value (or an R error with the server's message).
.tc_call <- function(msg) {
  # An interrupt must not land between a frame's parts: held until the answer is in.
  reply <- suspendInterrupts({
    .tc_send(msg)
    .tc_recv()
  })
  h <- reply$header
  if (identical(h$op, "error")) {
    # Not an error: a model's try() or tryCatch(error =) must not swallow the server's "stop now".
    if (isTRUE(h$timeout)) stop(structure(class = c("tc_timeout", "interrupt", "condition"),
                                          list(message = "script timed out", call = NULL)))
    stop(h$message, call. = FALSE)
  }
  if (!is.null(h$tensors)) return(lapply(h$tensors, .tc_array, blobs = reply$blobs))
  h$value
}

.tc_load <- function(v) if (is.null(v)) NULL else jsonlite::fromJSON(.tc_text(v), simplifyVector = TRUE)

.tc_dump <- function(v) .tc_bstr(.tc_json(v))

# ---- tensors: R arrays (dim = the tensor's shape, row-major data) -----------------------------------------

.tc_sizes <- c(FLOAT = 4, DOUBLE = 8, INT8 = 1, INT16 = 2, INT32 = 4, INT64 = 8, UINT8 = 1, UINT16 = 2, BOOL = 1)

.tc_array <- function(t, blobs) {
  data <- .tc_blob(t$data, blobs)
  shape <- as.integer(unlist(t$shape))
  dt <- t$dtype
  n <- if (length(shape)) prod(shape) else 1
  v <- switch(dt,
    FLOAT = readBin(data, "double", n, size = 4, endian = "little"),
    DOUBLE = readBin(data, "double", n, size = 8, endian = "little"),
    INT8 = readBin(data, "integer", n, size = 1, signed = TRUE),
    INT16 = readBin(data, "integer", n, size = 2, endian = "little"),
    INT32 = {
      # R reads the word 0x80000000 (-2^31) as NA.
      x <- readBin(data, "integer", n, size = 4, endian = "little")
      if (anyNA(x)) { x <- as.double(x); x[is.na(x)] <- -2^31 }
      x
    },
    INT64 = {
      w <- as.double(readBin(data, "integer", 2 * n, size = 4, endian = "little"))
      w[is.na(w)] <- -2^31
      lo <- w[c(TRUE, FALSE)]
      lo <- ifelse(lo < 0, lo + 2^32, lo)
      w[c(FALSE, TRUE)] * 2^32 + lo
    },
    UINT8 = readBin(data, "integer", n, size = 1, signed = FALSE),
    UINT16 = readBin(data, "integer", n, size = 2, signed = FALSE, endian = "little"),
    BOOL = readBin(data, "integer", n, size = 1, signed = FALSE) != 0,
    STRING = {
      parts <- split(data, cumsum(c(0, head(data == 0, -1))))
      vapply(parts, function(p) { x <- rawToChar(p[p != 0]); Encoding(x) <- "UTF-8"; x }, "")
    }
  )
  a <- if (length(shape) > 1) aperm(array(v, dim = rev(shape))) else array(v, dim = max(length(v), shape))
  attr(a, "dtype") <- dt
  a
}

.tc_tensor_out <- function(i, x, place) {
  dt <- attr(x, "dtype")
  if (is.null(dt)) {
    dt <- switch(typeof(x), double = "DOUBLE", integer = "INT32", logical = "BOOL", character = "STRING",
                 stop(sprintf("output %d is of R type %s, which no tensor type holds", i, typeof(x))))
  }
  shape <- if (is.null(dim(x))) length(x) else dim(x)
  v <- if (length(shape) > 1) as.vector(aperm(x)) else as.vector(x)
  data <- switch(dt,
    FLOAT = writeBin(as.double(v), raw(), size = 4, endian = "little"),
    DOUBLE = writeBin(as.double(v), raw(), size = 8, endian = "little"),
    INT8 = writeBin(as.integer(v), raw(), size = 1),
    INT16 = writeBin(as.integer(v), raw(), size = 2, endian = "little"),
    INT32 = writeBin(as.integer(v), raw(), size = 4, endian = "little"),
    INT64 = {
      v <- as.double(v)
      hi <- floor(v / 2^32)
      lo <- v - hi * 2^32
      lo <- ifelse(lo >= 2^31, lo - 2^32, lo)
      writeBin(as.integer(rbind(lo, hi)), raw(), size = 4, endian = "little")
    },
    UINT8 = writeBin(as.integer(v), raw(), size = 1),
    UINT16 = writeBin(as.integer(v), raw(), size = 2, endian = "little"),
    BOOL = writeBin(as.integer(as.logical(v)), raw(), size = 1),
    STRING = unlist(lapply(as.character(v), function(s) c(charToRaw(enc2utf8(s)), as.raw(0)))),
    stop(sprintf("output %d has dtype %s, which no tensor type is", i, dt))
  )
  if (is.null(data)) data <- raw(0)
  list(dtype = dt, shape = as.list(as.integer(shape)), data = place(data))
}

# Lays out outgoing data: small blobs inline, big ones in the shared-memory file.
.tc_placer <- function() {
  st <- new.env()
  st$inline <- raw(0)
  st$shm <- 0
  place <- function(data) {
    n <- length(data)
    if (n >= SHM_MIN) {
      .tc_shm_write(st$shm, data)
      ref <- list(`$shm` = list(st$shm, n))
      st$shm <- st$shm + n
    } else {
      ref <- list(`$blob` = list(length(st$inline), n))
      st$inline <- c(st$inline, data)
    }
    ref
  }
  list(place = place, blobs = function() st$inline)
}

# ---- what models see ---------------------------------------------------------------------------------------

local({
  e <- new.env(parent = globalenv())
  eval(parse(text = .tc_fastscore_src, keep.source = FALSE), envir = e)
  attach(e, name = "package:fastscore", warn.conflicts = FALSE)
})

.tc_record <- function(i, raw, t) {
  s <- .tc_text(raw)
  v <- tryCatch(switch(t,
    int = , long = { x <- suppressWarnings(as.numeric(s)); if (is.na(x) || x != round(x)) stop() else if (abs(x) < 2^31) as.integer(x) else x },
    float = , double = { x <- suppressWarnings(as.numeric(s)); if (is.na(x)) stop() else x },
    string = s,
    boolean = { b <- tolower(trimws(s)); if (b %in% c("true", "1")) TRUE else if (b %in% c("false", "0")) FALSE else stop() },
    jsonlite::fromJSON(s, simplifyVector = TRUE)
  ), error = function(e) structure(list(), class = "tc_bad"))
  if (inherits(v, "tc_bad")) stop(structure(class = c("tc_reply", "error", "condition"),
                                            list(message = sprintf("record %d: expected %s", i, t), call = NULL)))
  v
}

.tc_bad_output <- function(v, t) {
  stop(structure(class = c("tc_reply", "error", "condition"),
                 list(message = sprintf("the action produced %s, which is not %s",
                                        paste(deparse(v), collapse = ""), t), call = NULL)))
}

.tc_encode <- function(v, t) {
  if (t %in% c("int", "long")) {
    if (!is.numeric(v) || length(v) != 1 || is.na(v) || v != round(v)) .tc_bad_output(v, t)
    return(list("int", v))
  }
  if (t %in% c("float", "double")) {
    if (!is.numeric(v) || length(v) != 1) .tc_bad_output(v, t)
    v <- as.double(v)
    # JSON has no NaN or infinity: those travel as their text.
    if (!is.finite(v)) return(list("double", if (is.nan(v)) "nan" else if (v > 0) "inf" else "-inf"))
    return(list("double", v))
  }
  if (t == "string") {
    if (!is.character(v) || length(v) != 1) .tc_bad_output(v, t)
    return(list("str", v))
  }
  if (t == "boolean") {
    if (!is.logical(v) || length(v) != 1) .tc_bad_output(v, t)
    return(list("int", as.integer(v)))
  }
  list("json", .tc_json(v))
}

# ---- requests ----------------------------------------------------------------------------------------------

.tc_fn <- function(name) {
  f <- get0(name, envir = .tc$module, inherits = FALSE)
  if (is.function(f)) f else NULL
}

.tc_init <- function(req, blobs) {
  .tc$limit <- if (is.null(req$memory_limit)) 0 else req$memory_limit
  source <- rawToChar(.tc_blob(req$source, blobs))
  Encoding(source) <- "UTF-8"
  m <- new.env(parent = globalenv())
  eval(parse(text = source, keep.source = FALSE), envir = m)
  .tc$module <- m
  for (ep in unlist(req$entry_points)) {
    f <- .tc_fn(ep)
    if (is.null(f)) .tc_reply_error(sprintf("Function %s does not exist in the given script.", ep))
    n <- length(formals(f))
    if (n != 3 && !isTRUE(req$fastscore)) {
      .tc_reply_error(sprintf("Wrong number of inputs in function %s. Expected 3 but was %d", ep, n))
    }
  }
  if (isTRUE(req$fastscore) && isTRUE(req$begin) && !is.null(.tc_fn("begin"))) .tc_fn("begin")()
  .fs_forget()  # a replayed begin() saw swaps that wrote nothing
  list(header = list(op = "ok"))
}

.tc_reply_error <- function(message) {
  stop(structure(class = c("tc_reply", "error", "condition"), list(message = message, call = NULL)))
}

.tc_call_fn <- function(req, blobs) {
  arrays <- lapply(req$tensors, .tc_array, blobs = blobs)
  keys <- vapply(req$keys, .tc_text, "")
  args <- vapply(req$args, .tc_text, "")
  f <- .tc_fn(req$fn)
  if (is.null(f)) .tc_reply_error(sprintf("Function %s does not exist in the given script.", req$fn))
  .tc$current <- req$fn
  result <- f(arrays, keys, args)
  out <- .tc_placer()
  items <- if (is.null(result)) list() else if (is.list(result)) result else list(result)
  heads <- lapply(seq_along(items), function(i) .tc_tensor_out(i - 1, items[[i]], out$place))
  list(header = list(op = "result", tensors = heads), blobs = out$blobs())
}

# The action over each record set (one per AI.SCORE call in the batch); a set that fails answers its error
# and the next set runs.
.tc_score <- function(req, blobs) {
  f <- .tc_fn(req$action)
  if (is.null(f)) .tc_reply_error(sprintf("the script has no function %s", req$action))
  .tc$current <- req$action
  sets <- if (is.null(req$sets)) length(req$records) else unlist(req$sets)
  results <- list()
  at <- 0
  for (n in sets) {
    res <- tryCatch({
      values <- list()
      for (i in seq_len(n)) {
        rec <- .tc_record(i, req$records[[at + i]], req$input)
        .tc$emitted <- list()
        f(rec)
        for (v in .tc$emitted) values[[length(values) + 1]] <- .tc_encode(v, req$output)
      }
      list(values = values)
    }, error = function(e) {
      if (.tc$limit > 0 && grepl("cannot allocate", conditionMessage(e), fixed = TRUE)) stop(e)
      list(error = .tc_error_text(e))
    })
    results[[length(results) + 1]] <- res
    at <- at + n
  }
  .tc$emitted <- list()
  if (isTRUE(req$eof) && !is.null(.tc_fn("end"))) .tc_fn("end")()
  list(header = list(op = "result", results = results))
}

.tc_begin <- function(req, blobs) {
  if (!is.null(.tc_fn("begin"))) .tc_fn("begin")()
  .fs_forget()
  list(header = list(op = "ok"))
}

.tc_error_text <- function(e) {
  if (inherits(e, "tc_reply")) return(conditionMessage(e))
  call <- conditionCall(e)
  # The runner calls a model's function through its variable `f`: name it as the model does.
  if (is.call(call) && identical(call[[1]], as.name("f")) && !is.null(.tc$current)) {
    call[[1]] <- as.name(.tc$current)
  }
  if (is.null(call)) sprintf("Error: %s", conditionMessage(e))
  else sprintf("Error in %s: %s", paste(deparse(call), collapse = " "), conditionMessage(e))
}

.tc_handlers <- list(init = .tc_init, call = .tc_call_fn, score = .tc_score, begin = .tc_begin)

repeat {
  # Interrupts (the server's SIGINT past a time limit) reach the model's code only, never the frames.
  msg <- suspendInterrupts(.tc_recv())
  h <- .tc_handlers[[msg$header$op]]
  out <- tryCatch(
    if (is.null(h)) .tc_reply_error(sprintf("unknown request '%s'", msg$header$op))
    else suspendInterrupts(allowInterrupts(h(msg$header, msg$blobs))),
    tc_timeout = function(e) list(header = list(op = "error", kind = "timeout", message = "script timed out")),
    interrupt = function(e) list(header = list(op = "error", kind = "timeout", message = "script timed out")),
    error = function(e) {
      if (.tc$limit > 0 && grepl("cannot allocate", conditionMessage(e), fixed = TRUE)) {
        list(header = list(op = "error", kind = "memory", message = "script memory limit reached"))
      } else {
        list(header = list(op = "error", kind = "error", message = .tc_error_text(e)))
      }
    }
  )
  suspendInterrupts(.tc_send(out$header, if (is.null(out$blobs)) raw(0) else out$blobs))
}
