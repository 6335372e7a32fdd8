// Listing sandboxes through the official JavaScript SDK, unmodified: pages of one followed
// to the end, filtered by metadata and state; another key sees none of them. What each step
// gave is printed as one JSON object for the Rust test to check.
import { Sandbox } from 'e2b'

const other = process.env.OTHER_API_KEY
const pages = async (opts) => {
  const paginator = Sandbox.list(opts)
  const seen = []
  while (paginator.hasNext) {
    seen.push((await paginator.nextItems()).map((s) => s.sandboxId))
  }
  return seen
}

const made = []
for (let i = 0; i < 3; i++) {
  made.push(await Sandbox.create({ metadata: { suite: 'js', n: String(i), odd: 'x&y=z é' } }))
}
const out = { ids: made.map((s) => s.sandboxId) }
out.pages = await pages({ query: { metadata: { suite: 'js' } }, limit: 1 })
out.odd = await pages({ query: { metadata: { odd: 'x&y=z é' } }, limit: 2 })
out.running = await pages({ query: { metadata: { suite: 'js' }, state: ['running'] } })
out.paused = await pages({ query: { state: ['paused'] } })
out.running_or_paused = await pages({ query: { metadata: { suite: 'js' }, state: ['running', 'paused'] } })
out.other = await pages({ apiKey: other, limit: 1 })
for (const sandbox of made) {
  await sandbox.kill()
}
out.after_kill = await pages({ query: { metadata: { suite: 'js' } } })
console.log(JSON.stringify(out))
