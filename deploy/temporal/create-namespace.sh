#!/bin/sh
# Register the namespace leadflow runs in, once the frontend answers.
set -eu

namespace="${DEFAULT_NAMESPACE:-default}"
until temporal operator cluster health --address "$TEMPORAL_ADDRESS"; do sleep 1; done
temporal operator namespace describe --address "$TEMPORAL_ADDRESS" -n "$namespace" \
  || temporal operator namespace create --address "$TEMPORAL_ADDRESS" -n "$namespace" \
       --retention 30d
