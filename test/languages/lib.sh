# shellcheck shell=bash
# What the smoke apps' run.sh scripts share (sourced).

lib_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# The version of an npm package in node_modules: the JavaScript a language's binding runs, so
# the version that language's app must install for its YAML to equal the TypeScript synth.
node_module_version() {
  node -p "require('$lib_repo/node_modules/$1/package.json').version"
}

# The jsii runtime prints a banner on every start when Node.js is past its end of life; the smoke
# apps are not about that.
JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="${JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION:-$(node -p 'process.versions.node.split(".")[0]')}"
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION
