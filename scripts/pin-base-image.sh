#!/bin/sh
# Pin deploy/Dockerfile's base image to the digest the registry publishes for its tag today
# (`make pin-base-image`; needs docker with buildx and access to the registry). Run it again to
# take the base image's security fixes; commit the changed Dockerfile.
set -eu
dockerfile=${DOCKERFILE:-deploy/Dockerfile}
tag=${BASE_TAG:-python:3.11-slim}
# the index digest: the same for every platform the tag is published for
digest=$(docker buildx imagetools inspect "$tag" --format '{{json .Manifest}}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["digest"])')
case "$digest" in
  sha256:????????????????????????????????????????????????????????????????) ;;
  *) echo "pin-base-image: unexpected digest for $tag: $digest" >&2; exit 1 ;;
esac
sed -i -E "s#^ARG BASE_IMAGE=.*#ARG BASE_IMAGE=$tag@$digest#" "$dockerfile"
grep -n '^ARG BASE_IMAGE=' "$dockerfile"
