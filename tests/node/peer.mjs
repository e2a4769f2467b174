// The official artifact client as a test peer. Reads the runner's variables
// (ACTIONS_RUNTIME_TOKEN, ACTIONS_RESULTS_URL, GITHUB_SERVER_URL) from the environment.
//   node peer.mjs download <artifact id> <directory>
//   node peer.mjs upload <name> <file>
import path from 'node:path'
import {DefaultArtifactClient} from '@actions/artifact'

const [command, ...args] = process.argv.slice(2)
const client = new DefaultArtifactClient()
let result
if (command === 'download') {
  result = await client.downloadArtifact(Number(args[0]), {path: args[1]})
} else if (command === 'upload') {
  const file = path.resolve(args[1])
  result = await client.uploadArtifact(args[0], [file], path.dirname(file))
} else {
  throw new Error(`unknown command ${command}`)
}
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`)
