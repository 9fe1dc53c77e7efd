-- wrk script: POSTs one prepared line per request, each line used once.
-- A line is "<header value>\t<body>". Arguments (after --): file, path, header name,
-- content type, thread count. Thread n takes the lines whose index is n modulo the
-- thread count. When a thread runs out it starts again (the runner sizes the pool so
-- that it does not, and reports non-2xx replies).
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  local file, threads = args[1], tonumber(args[5])
  path, header, content_type = args[2], args[3], args[4]
  lines = {}
  local i = 0
  for line in io.lines(file) do
    if i % threads == id then
      local tab = line:find("\t", 1, true)
      lines[#lines + 1] = { line:sub(1, tab - 1), line:sub(tab + 1) }
    end
    i = i + 1
  end
  index = 0
end

-- Every request comes from a client address of its own (X-Forwarded-For, which the
-- storefront trusts in the bench, as behind a load balancer): thousands of shoppers,
-- not one address hammering the per-address rate limits. The reference ignores it.
function request()
  index = index % #lines + 1
  local line = lines[index]
  local address = string.format("10.%d.%d.%d", id % 256, math.floor(index / 256) % 256, index % 256)
  return wrk.format("POST", path, { [header] = line[1], ["Content-Type"] = content_type, ["X-Forwarded-For"] = address }, line[2])
end
