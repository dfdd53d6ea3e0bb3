-- create.lua: wrk script for bench/compare's creation case. Every request
-- is a tus creation POST (no body) for a 1 MiB upload named bench.mp4; at
-- the end one line "RESULT {json}" reports what bench/compare needs.
wrk.method = "POST"
wrk.body = nil
wrk.headers["Tus-Resumable"] = "1.0.0"
wrk.headers["Upload-Length"] = "1048576"
-- filename bench.mp4, title bench
wrk.headers["Upload-Metadata"] = "filename YmVuY2gubXA0,title YmVuY2g="

done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		'RESULT {"requests":%d,"durationUs":%d,"bytes":%d,"connectErrors":%d,"readErrors":%d,"writeErrors":%d,"statusErrors":%d,"timeouts":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d}\n',
		summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
		latency:percentile(50), latency:percentile(99), latency.max))
end
