"""An independent gRPC client for Quiver's interop tests: Python's grpcio with stubs generated from
the project's .proto files. Usage: grpc_interop.py ADDRESS PROTO_DIR SCRATCH_DIR. Prints one line
per check and exits non-zero when any check fails."""
import math
import os
import struct
import subprocess
import sys

address, proto_dir, scratch = sys.argv[1], sys.argv[2], sys.argv[3]
subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", proto_dir, "--python_out", scratch,
                "--grpc_python_out", scratch, "grpc_service.proto", "model_config.proto"], check=True)
sys.path.insert(0, scratch)

import grpc  # noqa: E402
import grpc_service_pb2 as pb  # noqa: E402
import grpc_service_pb2_grpc as pb_grpc  # noqa: E402

# The fixture's MLP weights (ModelRepositoryFixture.cs), to compute expected outputs here.
W1 = [[0.5, -1, 0.25], [1, 0.5, -0.5], [-0.25, 0.75, 1], [0.1, 0.2, 0.3]]
B1 = [0.1, -0.2, 0.05]
W2 = [[1, -1], [0.5, 0.25], [-0.75, 1.5]]
B2 = [0.2, -0.1]

failures = []


def check(name, condition, detail=""):
    print(("PASS " if condition else "FAIL ") + name + ("" if condition else ": " + str(detail)))
    if not condition:
        failures.append(name)


def mlp(row):
    hidden = [max(0.0, B1[j] + sum(row[i] * W1[i][j] for i in range(4))) for j in range(3)]
    logits = [B2[k] + sum(hidden[j] * W2[j][k] for j in range(3)) for k in range(2)]
    top = max(logits)
    exps = [math.exp(v - top) for v in logits]
    return [e / sum(exps) for e in exps]


def mlp_request(row, request_id="py-1"):
    request = pb.ModelInferRequest(model_name="mlp", model_version="1", id=request_id)
    tensor = request.inputs.add(name="input", datatype="FP32", shape=[1, 4])
    tensor.contents.fp32_contents.extend(row)
    return request


def status_of(call):
    try:
        call()
        return grpc.StatusCode.OK, ""
    except grpc.RpcError as error:
        return error.code(), error.details()


channel = grpc.insecure_channel(address)
stub = pb_grpc.GRPCInferenceServiceStub(channel)

check("ServerLive", stub.ServerLive(pb.ServerLiveRequest()).live)
check("ServerReady", stub.ServerReady(pb.ServerReadyRequest()).ready)
metadata = stub.ServerMetadata(pb.ServerMetadataRequest())
check("ServerMetadata", metadata.name == "quiver" and "classification" in metadata.extensions, metadata)
check("ModelReady", stub.ModelReady(pb.ModelReadyRequest(name="mlp", version="1")).ready)
model = stub.ModelMetadata(pb.ModelMetadataRequest(name="mlp_versions"))
check("ModelMetadata", list(model.versions) == ["1", "2"] and list(model.inputs[0].shape) == [-1, 4], model)

row = [5.1, 3.5, 1.4, 0.2]
response = stub.ModelInfer(mlp_request(row))
actual = struct.unpack("<2f", response.raw_output_contents[0])
expected = mlp(row)
check("ModelInfer FP32 typed", response.id == "py-1" and all(abs(a - e) < 1e-5 for a, e in zip(actual, expected)),
      (actual, expected))

request = pb.ModelInferRequest(model_name="multi_io")
request.inputs.add(name="a", datatype="INT64", shape=[1, 3])
request.inputs.add(name="b", datatype="INT64", shape=[1, 3])
request.inputs.add(name="flag", datatype="BOOL", shape=[1, 3])
request.raw_input_contents.extend([struct.pack("<3q", 1, 2, 3), struct.pack("<3q", 10, -20, 30), bytes([1, 0, 1])])
request.outputs.add(name="product")
response = stub.ModelInfer(request)
check("ModelInfer INT64 raw", struct.unpack("<3q", response.raw_output_contents[0]) == (10, -40, 90), response)

texts = ["héllo".encode(), b"", b"quiver"]
request = pb.ModelInferRequest(model_name="strings")
request.inputs.add(name="text", datatype="BYTES", shape=[3])
request.raw_input_contents.append(b"".join(struct.pack("<I", len(t)) + t for t in texts))
response = stub.ModelInfer(request)
check("ModelInfer BYTES raw", response.raw_output_contents[0] == request.raw_input_contents[0], response)

gzip_stub = pb_grpc.GRPCInferenceServiceStub(grpc.insecure_channel(address, compression=grpc.Compression.Gzip))
check("ModelInfer gzip", gzip_stub.ModelInfer(mlp_request(row, "gz")).id == "gz")

code, details = status_of(lambda: stub.ModelInfer(pb.ModelInferRequest(model_name="nope")))
check("unknown model is NOT_FOUND", code == grpc.StatusCode.NOT_FOUND and "nope" in details, (code, details))

bad = pb.ModelInferRequest(model_name="mlp")
bad.inputs.add(name="input", datatype="FP32", shape=[1, 4])
bad.raw_input_contents.append(b"\0" * 12)
code, details = status_of(lambda: stub.ModelInfer(bad))
check("wrong raw size is INVALID_ARGUMENT", code == grpc.StatusCode.INVALID_ARGUMENT and "'input'" in details, (code, details))

slow = pb.ModelInferRequest(model_name="slow")
slow.inputs.add(name="x", datatype="FP32", shape=[1])
slow.raw_input_contents.append(struct.pack("<f", 1.0))
code, details = status_of(lambda: stub.ModelInfer(slow, timeout=0.2))
check("deadline is DEADLINE_EXCEEDED", code == grpc.StatusCode.DEADLINE_EXCEEDED, (code, details))


def stream_requests():
    yield mlp_request([1, 2, 3, 4], "s-1")
    yield pb.ModelInferRequest(model_name="nope", id="s-bad")
    yield mlp_request([4, 3, 2, 1], "s-2")


responses = {r.infer_response.id: r for r in stub.ModelStreamInfer(stream_requests())}
check("ModelStreamInfer ids", sorted(responses) == ["s-1", "s-2", "s-bad"], list(responses))
check("ModelStreamInfer result", "s-2" in responses and abs(
    struct.unpack("<2f", responses["s-2"].infer_response.raw_output_contents[0])[0] - mlp([4, 3, 2, 1])[0]) < 1e-5)
check("ModelStreamInfer error", "nope" in responses.get("s-bad", pb.ModelStreamInferResponse()).error_message)

stats = stub.ModelStatistics(pb.ModelStatisticsRequest(name="mlp", version="1"))
check("ModelStatistics", stats.model_stats[0].inference_stats.success.count >= 1 and stats.model_stats[0].inference_stats.success.ns > 0, stats)
index = stub.RepositoryIndex(pb.RepositoryIndexRequest(ready=True))
check("RepositoryIndex", any(m.name == "mlp" and m.state == "READY" for m in index.models), index)
config = stub.ModelConfig(pb.ModelConfigRequest(name="mlp")).config
check("ModelConfig", config.max_batch_size == 8 and list(config.input[0].dims) == [4] and config.input[0].data_type == 11, config)
stub.RepositoryModelUnload(pb.RepositoryModelUnloadRequest(model_name="identity_int16"))
check("RepositoryModelUnload", not stub.ModelReady(pb.ModelReadyRequest(name="identity_int16")).ready)
stub.RepositoryModelLoad(pb.RepositoryModelLoadRequest(model_name="identity_int16"))
check("RepositoryModelLoad", stub.ModelReady(pb.ModelReadyRequest(name="identity_int16")).ready)

print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
