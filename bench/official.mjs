// The official @actions/artifact client (from tests/node/node_modules), for bench/upload.py:
//   node bench/official.mjs noop                  load the client as tests/node/peer.mjs
//                                                 does, make one, and exit: Node start-up
//   node bench/official.mjs upload <name> <file> <compression level>
// The runner's variables (ACTIONS_RUNTIME_TOKEN, ACTIONS_RESULTS_URL, ...) come from the
// environment, as for peer.mjs.
import path from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const entry = path.join(here, '..', 'tests', 'node', 'node_modules', '@actions', 'artifact',
  'lib', 'artifact.js')
const {DefaultArtifactClient} = await import(pathToFileURL(entry).href)

const [command, ...args] = process.argv.slice(2)
const client = new DefaultArtifactClient()
if (command === 'upload') {
  const file = path.resolve(args[1])
  const result = await client.uploadArtifact(args[0], [file], path.dirname(file), {
    compressionLevel: Number(args[2])
  })
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`)
} else if (command !== 'noop') {
  throw new Error(`unknown command ${command}`)
}
