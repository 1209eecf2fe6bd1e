"""Task Library worker: runs tflite-support's ImageClassifier in a process that never loads TensorFlow.

Started by `flowers_mobile.runtimes.task_library` as a script (not `-m`: importing the
`flowers_mobile` package is not needed here). The Task Library's pybind types clash with
TensorFlow's (docs/stack.md), so `tensorflow` is blocked before anything else is imported.

Protocol, one JSON object per line:
    argv:   MODEL_PATH NUM_THREADS NUM_RESULTS
    stdout: {"ready": true} once the classifier is built, or {"error": "..."} and exit 1
    stdin:  {"npy": PATH}  a uint8 array (N, H, W, 3) saved with numpy.save
    stdout: {"scores": [{label name: score, ...} per image]}  or {"error": "..."}
EOF on stdin ends the worker.
"""

import sys

sys.modules["tensorflow"] = None  # type: ignore[assignment]  # any TF import now fails fast

import json  # noqa: E402

import numpy as np  # noqa: E402


def _reply(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _protobuf_compat() -> None:
    """Give protobuf >= 6 back the `MessageFactory.GetPrototype` the Task Library calls.

    tflite-support 0.4.4's pybind11 protobuf bridge builds Python messages with
    `MessageFactory().GetPrototype(descriptor)`, which protobuf deprecated and removed in 6.30
    (TensorFlow 2.21 needs >= 6.31.1): without it every classifier fails to build ("'MessageFactory'
    object has no attribute 'GetPrototype'"). `message_factory.GetMessageClass` is its documented
    replacement and returns the same class.
    """
    from google.protobuf import message_factory

    if not hasattr(message_factory.MessageFactory, "GetPrototype"):
        message_factory.MessageFactory.GetPrototype = (  # type: ignore[attr-defined]
            lambda self, descriptor: message_factory.GetMessageClass(descriptor))


def main(argv: list[str]) -> int:
    model_path, threads, num_results = argv[0], int(argv[1]), int(argv[2])
    try:
        _protobuf_compat()
        from tensorflow_lite_support.python.task.core import base_options
        from tensorflow_lite_support.python.task.processor.proto import classification_options_pb2
        from tensorflow_lite_support.python.task.vision import image_classifier
        from tensorflow_lite_support.python.task.vision.core import tensor_image

        options = image_classifier.ImageClassifierOptions(
            base_options=base_options.BaseOptions(file_name=model_path, num_threads=threads),
            # Every class, however small its score: the caller rebuilds the full distribution.
            classification_options=classification_options_pb2.ClassificationOptions(
                max_results=num_results, score_threshold=0.0),
        )
        classifier = image_classifier.ImageClassifier.create_from_options(options)
    except Exception as exc:  # report any start-up failure on the protocol, then stop
        _reply({"error": f"{type(exc).__name__}: {exc}"})
        return 1
    _reply({"ready": True})
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            images = np.load(request["npy"])
            results = []
            for image in images:
                result = classifier.classify(tensor_image.TensorImage.create_from_array(np.ascontiguousarray(image)))
                categories = result.classifications[0].categories
                results.append({c.category_name: float(c.score) for c in categories})
            _reply({"scores": results})
        except Exception as exc:  # one bad request must not kill the worker silently
            _reply({"error": f"{type(exc).__name__}: {exc}"})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
