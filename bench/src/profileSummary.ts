import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { markdownTable } from './table';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/**
 * Self time per function and per package, from the `.cpuprofile` files that `--cpu-prof` wrote. With
 * `requests`, the requests the server counted over the profiled window, each row also says its µs per request.
 */
export function summariseProfile(dir: string, requests?: number, top = 20): string {
  const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile in ${dir}`);
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...selfUs.values()].reduce((sum, us) => sum + us, 0);
  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    const where = shortUrl(frame.url);
    const name = `${frame.functionName || '(anonymous)'} ${where ? `${where}:${frame.lineNumber + 1}` : ''}`.trim();
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    byArea.set(area(frame.url, frame.functionName), (byArea.get(area(frame.url, frame.functionName)) ?? 0) + us);
  }
  const inclusive = ownInclusiveTime(profile, selfUs);
  const perRequest = requests !== undefined && requests > 0;
  const rows = (map: Map<string, number>, limit: number) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([name, us]) => [
        name,
        `${((100 * us) / total).toFixed(1)}%`,
        (us / 1000).toFixed(0),
        ...(perRequest ? [(us / requests).toFixed(2)] : []),
      ]);
  const table = (first: string, kind: string, map: Map<string, number>, limit: number) =>
    markdownTable([first, `${kind} %`, `${kind} ms`, ...(perRequest ? [`${kind} µs/req`] : [])], rows(map, limit), [
      'l',
      'r',
      'r',
      'r',
    ]);
  return [
    `Profile ${file}: ${(total / 1e6).toFixed(1)} s of samples` +
      (perRequest
        ? ` over ${requests} requests, ${((total - (byArea.get('(idle)') ?? 0)) / requests).toFixed(1)} µs of samples ` +
          'other than (idle) per request ' +
          '(the whole life of the server process: start-up, warm-up and the measured window).'
        : '.'),
    '',
    table('area', 'self', byArea, 12),
    '',
    table('function', 'self', byFunction, top),
    '',
    `Samples with a frame of our packages on the stack (inclusive, synchronous work only): ` +
      `${((100 * inclusive.total) / total).toFixed(1)}%.`,
    '',
    table('our function (inclusive)', 'incl.', inclusive.byFunction, 12),
  ].join('\n');
}

/** A frame's URL from its package on (or from `packages/`, `bench/`), as the tables print it. */
export function shortUrl(url: string): string {
  const cut = url.replace(/^file:\/\//, '');
  const nm = cut.lastIndexOf('node_modules/');
  if (nm >= 0) return cut.slice(nm + 'node_modules/'.length);
  const pkg = cut.indexOf('/packages/');
  if (pkg >= 0) return cut.slice(pkg + 1);
  const bench = cut.indexOf('/bench/');
  if (bench >= 0) return cut.slice(bench + 1);
  return cut;
}

/** Groups a frame into the part of the stack it belongs to. */
export function area(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native / V8 builtins)';
  if (url.startsWith('node:')) return `node core (${url.slice(5).split('/')[0]})`;
  const short = shortUrl(url);
  if (short.startsWith('packages/')) return `our SDK: ${short.split('/').slice(0, 2).join('/')}`;
  if (short.startsWith('bench/')) return 'bench app';
  const parts = short.split('/');
  return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

/** Time of samples that have a frame of packages/server or packages/protocol anywhere on their stack. */
function ownInclusiveTime(profile: CpuProfile, selfUs: Map<number, number>) {
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const byFunction = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const names = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur)!.callFrame;
      if (/\/packages\/(server|protocol)\//.test(frame.url)) {
        names.add(`${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}`);
      }
    }
    if (names.size === 0) continue;
    total += us;
    for (const name of names) byFunction.set(name, (byFunction.get(name) ?? 0) + us);
  }
  return { total, byFunction };
}
