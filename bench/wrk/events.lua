-- wrk script: POST /v1/vod/events with realistic ~3 KB v3 event bodies.
-- Requests alternate NewFileUpload / ProcedureStateChanged (FINISH, AI review).
-- Each request carries a distinct FileId, TaskId and SessionId, so every one
-- is a new idempotency key (spec tencent-vod.md 5.4) and the receiver does a
-- real durable insert, never a duplicate skip.
-- Bodies: spec 4.4 examples plus documented fields (spec 4.2/4.3), in the
-- PullEvents shape with the other EventContent members as null (spec 4.1),
-- which brings NewFileUpload to ~2.75 KB and ProcedureStateChanged to ~3.36 KB.
-- Env: BENCH_RUN (integer, distinct per wrk run so ids never repeat across
-- runs against the same database; the driver sets it), BENCH_EVENTS_TOKEN
-- (optional bearer token; not needed by the v3 push format).
-- done() prints one machine-readable line: WRK_RESULT {json}.

local run = tonumber(os.getenv("BENCH_RUN") or "") or (os.time() % 100000)
local tid = 0
local counter = 0

-- Split a template at @NAME@ placeholders once; fill() joins the parts.
local function compile(t)
  local parts, names, pos = {}, {}, 1
  while true do
    local s, e, name = t:find("@(%u+)@", pos)
    if not s then break end
    parts[#parts + 1] = t:sub(pos, s - 1)
    names[#names + 1] = name
    pos = e + 1
  end
  parts[#parts + 1] = t:sub(pos)
  return { parts = parts, names = names }
end

local function fill(c, vals)
  local out = {}
  for i = 1, #c.names do
    out[#out + 1] = c.parts[i]
    out[#out + 1] = vals[c.names[i]]
  end
  out[#out + 1] = c.parts[#c.parts]
  return table.concat(out)
end

local NFU_TEMPLATE = [==[{"EventType":"NewFileUpload","FileUploadEvent":{"FileId":"@FILEID@","MediaBasicInfo":{"Name":"我的第一个视频-my-first-clip-20250301-081530","Description":"第7课 课堂录像 / Lesson 7 classroom recording, uploaded from the iOS app (build 4.12.0, iPhone 14, iOS 17.4). Auto-review (content_review procedure) is on; the teacher sees it after review passes.","CreateTime":"2025-03-01T08:15:30Z","UpdateTime":"2025-03-01T08:15:32Z","ExpireTime":"9999-12-31T23:59:59Z","ClassId":0,"ClassName":"其他","ClassPath":"其他","CoverUrl":"https://1500000001.vod2.myqcloud.com/6c1a2b3cvodcq1500000001/8f2e9a1b@FILEID@/coverBySnapshot/coverBySnapshot_10_0.jpg","Type":"mp4","MediaUrl":"https://1500000001.vod2.myqcloud.com/6c1a2b3cvodcq1500000001/8f2e9a1b@FILEID@/AbCdEfGhIjKL.mp4","TagSet":["course-7","lesson","ios"],"StorageRegion":"ap-chongqing","StoragePath":"","SourceInfo":{"SourceType":"Upload","SourceContext":"vg1.u_7f3a9c2e41d84b6a.9QmXr2LkT0aZ4bN8cV1dE6fG3hJ5kP7sW0yU2iO4qR6tY8.xVb3Nq9Lm2Kc7Jd5Hf1Gs4Ta8Ur0We6Yi","LiveRecordInfo":null,"TrtcRecordInfo":null,"WebPageRecordInfo":null},"Vid":"","Category":"Video","Status":"Normal","StorageClass":"STANDARD"},"ProcedureTaskId":"1500000001-procedurev2-@TASKID@","ReviewAudioVideoTaskId":"","MetaData":{"Size":7700180,"Container":"mov,mp4,m4a,3gp,3g2,mj2","Bitrate":1021028,"Height":480,"Width":640,"Digest":"","Duration":60,"Rotate":0,"VideoDuration":60,"AudioDuration":59.99,"VideoStreamSet":[{"Bitrate":637174,"Height":480,"Width":640,"Codec":"h264","Fps":23,"CodecTag":"avc1","DynamicRangeInfo":{"Type":"SDR","HDRType":""}}],"AudioStreamSet":[{"Bitrate":383854,"SamplingRate":48000,"Codec":"aac","Channel":2}],"Md5":""}},"ProcedureStateChangeEvent":null,"FileDeleteEvent":null,"PullCompleteEvent":null,"EditMediaCompleteEvent":null,"SplitMediaCompleteEvent":null,"ComposeMediaCompleteEvent":null,"ClipCompleteEvent":null,"TranscodeCompleteEvent":null,"CreateImageSpriteCompleteEvent":null,"ConcatCompleteEvent":null,"SnapshotByTimeOffsetCompleteEvent":null,"WechatPublishCompleteEvent":null,"WechatMiniProgramPublishCompleteEvent":null,"RemoveWatermarkCompleteEvent":null,"RestoreMediaCompleteEvent":null,"RebuildMediaCompleteEvent":null,"ExtractTraceWatermarkCompleteEvent":null,"ExtractCopyRightWatermarkCompleteEvent":null,"ReviewAudioVideoCompleteEvent":null,"ReduceMediaBitrateCompleteEvent":null,"DescribeFileAttributesCompleteEvent":null,"QualityInspectCompleteEvent":null,"QualityEnhanceCompleteEvent":null,"MediaCastStatusChangedEvent":null,"PersistenceCompleteEvent":null,"ComplexAdaptiveDynamicStreamingCompleteEvent":null,"ProcessMediaByMPSCompleteEvent":null,"AigcImageCompleteEvent":null,"AigcVideoCompleteEvent":null}]==]

local PSC_TEMPLATE = [==[{"EventType":"ProcedureStateChanged","ProcedureStateChangeEvent":{"TaskId":"1500000001-procedurev2-@TASKID@","Status":"FINISH","ErrCode":0,"Message":"","FileId":"@FILEID@","FileName":"my-first-clip","FileUrl":"https://1500000001.vod2.myqcloud.com/6c1a2b3cvodcq1500000001/8f2e9a1b@FILEID@/AbCdEfGhIjKL.mp4","MetaData":{"Size":7700180,"Container":"mov,mp4,m4a,3gp,3g2,mj2","Bitrate":1021028,"Height":480,"Width":640,"Digest":"","Duration":60,"Rotate":0,"VideoDuration":60,"AudioDuration":59.99,"VideoStreamSet":[{"Bitrate":637174,"Height":480,"Width":640,"Codec":"h264","Fps":23,"CodecTag":"avc1","DynamicRangeInfo":{"Type":"SDR","HDRType":""}}],"AudioStreamSet":[{"Bitrate":383854,"SamplingRate":48000,"Codec":"aac","Channel":2}],"Md5":""},"MediaProcessResultSet":[],"AiContentReviewResultSet":[{"Type":"Porn","PornTask":{"Status":"SUCCESS","ErrCodeExt":"","ErrCode":0,"Message":"","Progress":100,"Input":{"Definition":10},"Output":{"Confidence":97,"Suggestion":"block","Label":"sexy","SegmentSet":[{"StartTimeOffset":9.5,"EndTimeOffset":14,"Confidence":97,"Label":"sexy","Suggestion":"block","Url":"https://1500000001.vod2.myqcloud.com/review/@FILEID@/seg1.jpg","PicUrlExpireTime":"2025-03-08T08:20:00Z"},{"StartTimeOffset":31,"EndTimeOffset":33.5,"Confidence":88,"Label":"sexy","Suggestion":"review","Url":"https://1500000001.vod2.myqcloud.com/review/@FILEID@/seg2.jpg","PicUrlExpireTime":"2025-03-08T08:20:00Z"}],"SegmentSetFileUrl":"https://1500000001.vod2.myqcloud.com/review/@FILEID@/porn-segments.json","SegmentSetFileUrlExpireTime":"2025-03-08T08:20:00Z"}}},{"Type":"Terrorism","TerrorismTask":{"Status":"SUCCESS","ErrCodeExt":"","ErrCode":0,"Message":"","Progress":100,"Input":{"Definition":10},"Output":{"Confidence":0,"Suggestion":"pass","Label":"","SegmentSet":[]}}},{"Type":"Political","PoliticalTask":{"Status":"SUCCESS","ErrCodeExt":"","ErrCode":0,"Message":"","Progress":100,"Input":{"Definition":10},"Output":{"Confidence":0,"Suggestion":"pass","Label":"","SegmentSet":[]}}}],"AiAnalysisResultSet":[],"AiRecognitionResultSet":[],"TasksPriority":0,"TasksNotifyMode":"Finish","SessionContext":"vg1.u_7f3a9c2e41d84b6a.9QmXr2LkT0aZ4bN8cV1dE6fG3hJ5kP7sW0yU2iO4qR6tY8.xVb3Nq9Lm2Kc7Jd5Hf1Gs4Ta8Ur0We6Yi","SessionId":"@SESSIONID@","Operator":"","OperationType":""},"FileUploadEvent":null,"FileDeleteEvent":null,"PullCompleteEvent":null,"EditMediaCompleteEvent":null,"SplitMediaCompleteEvent":null,"ComposeMediaCompleteEvent":null,"ClipCompleteEvent":null,"TranscodeCompleteEvent":null,"CreateImageSpriteCompleteEvent":null,"ConcatCompleteEvent":null,"SnapshotByTimeOffsetCompleteEvent":null,"WechatPublishCompleteEvent":null,"WechatMiniProgramPublishCompleteEvent":null,"RemoveWatermarkCompleteEvent":null,"RestoreMediaCompleteEvent":null,"RebuildMediaCompleteEvent":null,"ExtractTraceWatermarkCompleteEvent":null,"ExtractCopyRightWatermarkCompleteEvent":null,"ReviewAudioVideoCompleteEvent":null,"ReduceMediaBitrateCompleteEvent":null,"DescribeFileAttributesCompleteEvent":null,"QualityInspectCompleteEvent":null,"QualityEnhanceCompleteEvent":null,"MediaCastStatusChangedEvent":null,"PersistenceCompleteEvent":null,"ComplexAdaptiveDynamicStreamingCompleteEvent":null,"ProcessMediaByMPSCompleteEvent":null,"AigcImageCompleteEvent":null,"AigcVideoCompleteEvent":null}]==]

local nfu = compile(NFU_TEMPLATE)
local psc = compile(PSC_TEMPLATE)
local headers = { ["Content-Type"] = "application/json" }
local token = os.getenv("BENCH_EVENTS_TOKEN") or ""
if token ~= "" then headers["Authorization"] = "Bearer " .. token end

-- Thread ids (0-9) keep ids distinct with -t > 1.
local next_tid = 0
function setup(thread)
  thread:set("bench_tid", next_tid % 10)
  next_tid = next_tid + 1
end

function init(args)
  tid = tonumber(bench_tid) or 0
end

function request()
  counter = counter + 1
  -- 19 digits like a real FileId: 5285 + run (5) + thread (1) + counter (9).
  local fid = string.format("5285%05d%d%09d", run % 100000, tid, counter)
  local vals = { FILEID = fid, TASKID = "bench" .. fid .. "tt0", SESSIONID = "s-" .. fid }
  local body = fill(counter % 2 == 1 and nfu or psc, vals)
  return wrk.format("POST", nil, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"rps":%.1f,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"non2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout))
end
