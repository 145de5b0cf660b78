#!/bin/bash
# The layers of docs/architecture.md: a folder includes only the folders
# below it. Fails naming each include that points the wrong way.
set -u
root=${1:?usage: layering.sh SOURCE_ROOT}
cd "$root" || exit 2
status=0

# forbid FOLDER... -- PATTERN WHY: no file under the folders (not their
# subfolders when the folder ends in /.) includes a path matching PATTERN.
forbid() {
    local pattern=$1 why=$2
    shift 2
    local hits
    hits=$(grep -rnE --include='*.hpp' --include='*.cpp' --include='*.h' --include='*.c' \
        "^#include \"($pattern)" "$@" 2>/dev/null)
    if [ -n "$hits" ]; then
        echo "$why:"
        echo "$hits" | sed 's/^/  /'
        status=1
    fi
}

stages="classifier shaper"
forbid 'control/|dataplane/pipeline/|dataplane/daemon/|bpf/' \
    "the classifier and the shaper are libraries that know nothing of the policy language, the control side or the pipeline" $stages
# dataplane/ itself without its pipeline/ and daemon/ subfolders.
base=$(find dataplane -maxdepth 1 -name '*.[ch]pp')
forbid 'control/|dataplane/pipeline/|dataplane/daemon/' \
    "the dataplane's base (EAL, ports, parser, options) knows nothing of the control side or the pipeline" $base
forbid 'control/|dataplane/daemon/' "the pipeline runs the stages from their own config types, never the policy" dataplane/pipeline
forbid 'control/|dataplane/pipeline/|dataplane/daemon/' "the XDP program's loader takes the dataplane's filter, never the policy" bpf
forbid 'control/runtime/|dataplane/pipeline/|dataplane/daemon/|classifier/|shaper/' \
    "the policy language, the servers and the CLI know nothing of the runtime or the packet path" \
    control/policy control/server control/client control/sluicectl
forbid 'dataplane/daemon/' "only sluiced's main wires everything; nothing includes it" control/runtime
forbid 'control/|dataplane/|classifier/|shaper/|bpf/' "common/ is below every layer" common

[ $status -eq 0 ] && echo "layers: every include points down"
exit $status
