// The observer's page: Preact components written with `h` (no JSX step), fed by the channel's
// updates. Bundled by build.mjs into one script and one stylesheet served by the observer.
import { type ComponentChildren, h, render } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { EntityDetail, EntityTypeRow, ProcessDetail, ProcessQuery, ProcessRow, ProcessSortKey, TreeNode, Update } from '../protocol.js';
import { RateChart } from './chart.js';
import { Channel, type Status } from './connection.js';
import './style.css';

type Reply = Awaited<ReturnType<Channel['request']>>;

const fmtBytes = (n: number): string => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);
const fmtUptime = (ms: number): string => {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m ${s % 60}s`;
};
const label = (id: number, name: string | undefined): string => (name === undefined ? `<${id}>` : `${name} <${id}>`);

function Stat(props: { name: string; value: string | number; testid?: string | undefined }) {
  return h('div', { class: 'stat' }, h('span', { class: 'stat-name' }, props.name), h('span', { class: 'stat-value', 'data-testid': props.testid }, String(props.value)));
}

function Panel(props: { title: string; children?: ComponentChildren; testid?: string }) {
  return h('section', { class: 'panel', 'data-testid': props.testid }, h('h2', null, props.title), props.children);
}

function ActionResult(props: { reply: Reply | null }) {
  const r = props.reply;
  if (r === null) return null;
  return h(
    'div',
    { class: r.ok ? 'result ok' : 'result err', 'data-testid': 'action-result' },
    r.ok ? `done: ${JSON.stringify(r.result)}` : `${r.error.code}: ${r.error.message}`,
  );
}

// ---------------------------------------------------------------- the supervision tree

/** Remembers each child's restart count to flash the ones that went up in this update. */
function useFlash(tree: readonly TreeNode[]): Set<string> {
  const last = useRef(new Map<string, number>());
  return useMemo(() => {
    const flashing = new Set<string>();
    const walk = (n: TreeNode, path: string): void => {
      const key = `${path}/${n.childId ?? n.id}`;
      const before = last.current.get(key);
      if (before !== undefined && n.restarts > before) flashing.add(key);
      last.current.set(key, n.restarts);
      for (const c of n.children) walk(c, key);
    };
    for (const r of tree) walk(r, '');
    return flashing;
  }, [tree]);
}

function TreeView(props: { tree: readonly TreeNode[]; actions: boolean; act: (frame: Record<string, unknown>) => void }) {
  const flashing = useFlash(props.tree);
  const node = (n: TreeNode, path: string, parent: TreeNode | undefined): ComponentChildren => {
    const key = `${path}/${n.childId ?? n.id}`;
    const title = h(
      'span',
      { class: `node ${n.kind} ${n.status} ${flashing.has(key) ? 'flash' : ''}`, 'data-testid': 'tree-node', 'data-child': n.childId ?? '', 'data-id': n.id },
      h('span', { class: 'node-name' }, n.status === 'running' ? label(n.id, n.name) : `(${n.status})`),
      n.childId !== undefined ? h('span', { class: 'child-id' }, ` ${n.childId}`) : null,
      h('span', { class: 'kind' }, ` ${n.kind}`),
      h('span', { class: 'restarts', 'data-testid': 'restarts' }, ` ↻${n.restarts}`),
      n.lastExit !== undefined ? h('span', { class: 'last-exit', 'data-testid': 'last-exit', title: 'last exit reason' }, ` last exit: ${n.lastExit}`) : null,
      n.kind !== 'worker' ? h('span', { class: 'count' }, ` ${n.total} children`) : null,
      props.actions && parent !== undefined && parent.kind === 'supervisor' && n.childId !== undefined
        ? h(
            'span',
            { class: 'node-actions' },
            h('button', { onClick: () => props.act({ op: 'action', action: 'restart-child', supervisor: parent.id, child: n.childId }) }, 'restart'),
            h('button', { onClick: () => props.act({ op: 'action', action: 'terminate-child', supervisor: parent.id, child: n.childId }) }, 'terminate'),
          )
        : null,
      props.actions && n.status === 'running' ? h('button', { class: 'kill', 'data-testid': 'kill', onClick: () => props.act({ op: 'action', action: 'kill', actor: n.id }) }, 'kill') : null,
    );
    if (n.children.length === 0) return h('li', { key }, title);
    return h(
      'li',
      { key },
      h(
        'details',
        { open: n.total <= 20 },
        h('summary', null, title),
        h(
          'ul',
          null,
          n.children.map((c) => node(c, key, n)),
          n.total > n.children.length ? h('li', { class: 'more' }, `… and ${n.total - n.children.length} more (see Processes)`) : null,
        ),
      ),
    );
  };
  return h('ul', { class: 'tree', 'data-testid': 'tree' }, props.tree.length === 0 ? h('li', null, 'no supervisors') : props.tree.map((n) => node(n, '', undefined)));
}

// ---------------------------------------------------------------- processes

const COLUMNS: readonly [ProcessSortKey, string][] = [
  ['id', 'id'],
  ['name', 'name'],
  ['behaviour', 'behaviour'],
  ['status', 'status'],
  ['mailbox', 'mailbox'],
  ['rate', 'msgs/s'],
  ['owed', 'owed asks'],
  ['memory', 'memory'],
];

function Processes(props: {
  data: Update['processes'];
  setQuery: (q: Partial<ProcessQuery>) => void;
  channel: Channel;
  actions: boolean;
  act: (frame: Record<string, unknown>) => void;
}) {
  const { data } = props;
  const q = data.query;
  const [detail, setDetail] = useState<ProcessDetail | string | null>(null);
  const pages = Math.max(1, Math.ceil(data.total / q.pageSize));
  const open = async (row: ProcessRow): Promise<void> => {
    const r = await props.channel.request({ op: 'process', id: row.id });
    setDetail(r.ok ? (r.result as ProcessDetail) : `${r.error.code}: ${r.error.message}`);
  };
  return h(
    'div',
    { class: 'processes' },
    h(
      'div',
      { class: 'toolbar' },
      h('input', {
        type: 'search',
        placeholder: 'search id, name, behaviour',
        'data-testid': 'process-search',
        value: q.search,
        onInput: (e: Event) => props.setQuery({ search: (e.target as HTMLInputElement).value, page: 0 }),
      }),
      h('span', { 'data-testid': 'process-total' }, `${data.total} processes`),
      h('button', { disabled: q.page === 0, onClick: () => props.setQuery({ page: q.page - 1 }) }, '‹ prev'),
      h('span', { 'data-testid': 'process-page' }, `page ${q.page + 1} of ${pages}`),
      h('button', { 'data-testid': 'next-page', disabled: q.page + 1 >= pages, onClick: () => props.setQuery({ page: q.page + 1 }) }, 'next ›'),
    ),
    h(
      'table',
      { 'data-testid': 'process-table' },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          COLUMNS.map(([key, name]) =>
            h(
              'th',
              { key, class: 'sortable', 'data-sort': key, onClick: () => props.setQuery({ sort: key, desc: q.sort === key ? !q.desc : key !== 'id' && key !== 'name' }) },
              name,
              q.sort === key ? (q.desc ? ' ▼' : ' ▲') : '',
            ),
          ),
        ),
      ),
      h(
        'tbody',
        null,
        data.rows.map((r) =>
          h(
            'tr',
            { key: r.id, 'data-testid': 'process-row', onClick: () => void open(r) },
            h('td', null, `<${r.id}>`),
            h('td', null, r.name ?? ''),
            h('td', null, r.behaviour),
            h('td', null, r.status),
            h('td', { class: 'num' }, r.mailbox),
            h('td', { class: 'num' }, r.rate),
            h('td', { class: 'num' }, r.owed),
            h('td', { class: 'num' }, fmtBytes(r.memory)),
          ),
        ),
      ),
    ),
    detail === null
      ? null
      : typeof detail === 'string'
        ? h('div', { class: 'detail err' }, detail)
        : h(
            'div',
            { class: 'detail', 'data-testid': 'process-detail' },
            h('h3', null, label(detail.id, detail.name), ' ', detail.behaviour),
            h(
              'dl',
              null,
              ...(
                [
                  ['status', detail.status],
                  ['parent', detail.parent === undefined ? '—' : `<${detail.parent}>`],
                  ['links', detail.links.map((l) => `<${l}>`).join(' ') || '—'],
                  ['monitors (held on it)', detail.monitors],
                  ['monitoring', detail.monitoring],
                  ['timers', detail.timers ? 'yes' : 'no'],
                  ['trap exit', detail.trapExit ? 'yes' : 'no'],
                  ['stash', detail.stash],
                  ['handled', detail.handled],
                  ['owed asks', detail.owed],
                ] as const
              ).flatMap(([k, v]) => [h('dt', null, k), h('dd', null, String(v))]),
            ),
            props.actions ? h('button', { class: 'kill', onClick: () => props.act({ op: 'action', action: 'kill', actor: detail.id }) }, 'kill') : null,
          ),
  );
}

// ---------------------------------------------------------------- entities

function Entities(props: { rows: readonly EntityTypeRow[]; channel: Channel; actions: boolean; act: (frame: Record<string, unknown>) => void }) {
  const [type, setType] = useState('');
  const [id, setId] = useState('');
  const [found, setFound] = useState<EntityDetail | string | null>(null);
  const chosen = type === '' ? (props.rows[0]?.type ?? '') : type;
  const find = async (e: Event): Promise<void> => {
    e.preventDefault();
    const r = await props.channel.request({ op: 'entity', type: chosen, id });
    setFound(r.ok ? (r.result as EntityDetail) : `${r.error.code}: ${r.error.message}`);
  };
  return h(
    'div',
    null,
    h(
      'table',
      { 'data-testid': 'entity-types' },
      h(
        'thead',
        null,
        h('tr', null, ['type', 'kind', 'active', 'passivating', 'activations', 'recoveries', 'recovery failures', 'passivations', 'poison', 'snapshots', 'events', 'events/s'].map((c) => h('th', { key: c }, c))),
      ),
      h(
        'tbody',
        null,
        props.rows.map((r) =>
          h(
            'tr',
            { key: r.type },
            [r.type, r.kind, r.active, r.passivating, r.activations, r.recoveries, r.recoveryFailures, r.passivations, r.poisonCommands, r.snapshots, r.eventsPersisted, r.eventsPerSecond].map((v, i) =>
              h('td', { key: i, class: typeof v === 'number' ? 'num' : '' }, String(v)),
            ),
          ),
        ),
      ),
    ),
    h(
      'form',
      { class: 'toolbar', onSubmit: (e: Event) => void find(e) },
      h('label', null, 'find ', h('select', { 'data-testid': 'entity-type', value: chosen, onChange: (e: Event) => setType((e.target as HTMLSelectElement).value) }, props.rows.map((r) => h('option', { key: r.type, value: r.type }, r.type)))),
      h('input', { 'data-testid': 'entity-id', placeholder: 'entity id', value: id, onInput: (e: Event) => setId((e.target as HTMLInputElement).value) }),
      h('button', { type: 'submit', 'data-testid': 'entity-find' }, 'find'),
    ),
    found === null
      ? null
      : typeof found === 'string'
        ? h('div', { class: 'detail err', 'data-testid': 'entity-error' }, found)
        : h(
            'div',
            { class: 'detail', 'data-testid': 'entity-detail' },
            h('h3', null, `${found.type}/${found.id}`, found.active ? ' (active)' : ' (passivated)'),
            h('div', null, 'sequence number ', h('b', { 'data-testid': 'entity-seq' }, String(found.sequenceNr)), found.actor === undefined ? '' : ` · actor <${found.actor}>`, ` · ${found.queued} queued`),
            h('pre', { 'data-testid': 'entity-state' }, found.state === undefined ? '(not in memory)' : JSON.stringify(found.state, null, 2)),
            h('h4', null, 'recent events'),
            h('ol', null, found.recentEvents.map((e) => h('li', { key: e.sequenceNr, value: e.sequenceNr }, `${e.type} ${JSON.stringify(e.payload)}`))),
            props.actions && found.active
              ? h('button', { 'data-testid': 'passivate', onClick: () => props.act({ op: 'action', action: 'passivate', type: found.type, id: found.id }) }, 'passivate')
              : null,
          ),
  );
}

// ---------------------------------------------------------------- the page

type Tab = 'tree' | 'processes' | 'entities' | 'system' | 'charts';

function App(props: { path: string }) {
  const [status, setStatus] = useState<{ s: Status; detail?: string | undefined }>({ s: 'connecting' });
  const [hello, setHello] = useState<{ actions: boolean; system: string } | null>(null);
  const [update, setUpdate] = useState<Update | null>(null);
  const [tab, setTab] = useState<Tab>('tree');
  const [result, setResult] = useState<Reply | null>(null);
  const charts = useMemo(() => ({ faults: new RateChart(['dead letters/s', 'restarts/s'], ['#c0392b', '#e67e22']), journal: new RateChart(['appends/s'], ['#2471a3']) }), []);
  const prev = useRef<Update | null>(null);
  const channel = useMemo(
    () =>
      new Channel(props.path, {
        status: (s, detail) => setStatus({ s, detail }),
        hello: (actions, system) => setHello({ actions, system }),
        update: (u) => {
          const p = prev.current;
          if (p !== null) {
            const dt = Math.max(0.001, (u.at - p.at) / 1000);
            charts.faults.push(u.at, [(u.overview.deadLetters - p.overview.deadLetters) / dt, (u.overview.supervisorRestarts - p.overview.supervisorRestarts) / dt]);
            charts.journal.push(u.at, [u.journal.appendsPerSecond]);
          }
          prev.current = u;
          setUpdate(u);
        },
      }),
    [],
  );
  const query = useRef<ProcessQuery | null>(null);
  const setQuery = (q: Partial<ProcessQuery>): void => {
    const next = { ...(query.current ?? update?.processes.query), ...q };
    query.current = next as ProcessQuery;
    channel.setWatch({ op: 'watch', processes: next });
  };
  const act = (frame: Record<string, unknown>): void => {
    void channel.request(frame).then(setResult);
  };
  const chartEl = useRef<HTMLDivElement>(null);
  const journalEl = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (tab === 'charts' && chartEl.current !== null && journalEl.current !== null) {
      charts.faults.mount(chartEl.current);
      charts.journal.mount(journalEl.current);
    }
  }, [tab]);
  const o = update?.overview;
  const tabs: [Tab, string][] = [
    ['tree', 'Supervision tree'],
    ['processes', 'Processes'],
    ['entities', 'Entities'],
    ['system', 'Journal & gateway'],
    ['charts', 'Charts'],
  ];
  return h(
    'div',
    { class: 'app' },
    h(
      'header',
      null,
      h('h1', null, 'beamstate observer', hello === null ? '' : ` · ${hello.system}`),
      h('span', { class: `conn ${status.s}`, 'data-testid': 'connection' }, status.s, status.detail === undefined ? '' : ` — ${status.detail}`),
      hello?.actions === true ? h('span', { class: 'badge' }, 'actions enabled') : h('span', { class: 'badge ro' }, 'read-only'),
    ),
    o === undefined
      ? null
      : h(
          'div',
          { class: 'stats' },
          h(Stat, { name: 'uptime', value: fmtUptime(o.uptimeMs) }),
          h(Stat, { name: 'actors', value: o.actors, testid: 'actor-count' }),
          h(Stat, { name: 'active entities', value: o.activeEntities }),
          h(Stat, { name: 'restarts', value: o.supervisorRestarts, testid: 'restart-count' }),
          h(Stat, { name: 'dead letters', value: o.deadLetters }),
          h(Stat, { name: 'heap', value: fmtBytes(o.heapUsed) }),
          h(Stat, { name: 'rss', value: fmtBytes(o.rss) }),
        ),
    h('nav', null, tabs.map(([t, name]) => h('button', { key: t, class: tab === t ? 'tab active' : 'tab', 'data-tab': t, onClick: () => setTab(t) }, name))),
    h(ActionResult, { reply: result }),
    update === null
      ? h('p', null, 'waiting for the first update…')
      : h(
          'main',
          null,
          tab === 'tree' ? h(Panel, { title: 'Supervision tree', testid: 'tree-panel' }, h(TreeView, { tree: update.tree, actions: hello?.actions === true, act })) : null,
          tab === 'processes'
            ? h(Panel, { title: 'Processes', testid: 'processes-panel' }, h(Processes, { data: update.processes, setQuery, channel, actions: hello?.actions === true, act }))
            : null,
          tab === 'entities' ? h(Panel, { title: 'Entities', testid: 'entities-panel' }, h(Entities, { rows: update.entities, channel, actions: hello?.actions === true, act })) : null,
          tab === 'system'
            ? h(
                'div',
                { class: 'row' },
                h(
                  Panel,
                  { title: 'Journal', testid: 'journal-panel' },
                  h(Stat, { name: 'appends', value: update.journal.appends }),
                  h(Stat, { name: 'events', value: update.journal.events }),
                  h(Stat, { name: 'batches', value: update.journal.batches }),
                  h(Stat, { name: 'appends/s', value: update.journal.appendsPerSecond }),
                  h(Stat, { name: 'appends per batch', value: update.journal.batchSize }),
                  h(Stat, { name: 'largest batch', value: update.journal.largestBatch }),
                  h(Stat, { name: 'conflicts', value: update.journal.conflicts }),
                ),
                h(
                  Panel,
                  { title: 'Gateway', testid: 'gateway-panel' },
                  update.gateway.attached ? h(Stat, { name: 'connections', value: update.gateway.connections }) : h('p', null, 'no gateway'),
                  h(Stat, { name: 'frames in', value: update.gateway.framesIn }),
                  h(Stat, { name: 'frames/s', value: update.gateway.framesPerSecond }),
                  h(Stat, { name: 'slow consumers closed', value: update.gateway.slowConsumersClosed }),
                  h(Stat, { name: 'auth failures', value: update.gateway.authFailures, testid: 'auth-failures' }),
                  h(Stat, { name: 'forbidden', value: update.gateway.forbidden }),
                  h(Stat, { name: 'observer pages', value: update.gateway.observers }),
                ),
              )
            : null,
          h(
            'div',
            { style: tab === 'charts' ? '' : 'display:none' },
            h(Panel, { title: 'Dead letters and restarts per second', testid: 'charts-panel' }, h('div', { ref: chartEl })),
            h(Panel, { title: 'Journal appends per second' }, h('div', { ref: journalEl })),
          ),
        ),
  );
}

const root = document.getElementById('app');
if (root !== null) render(h(App, { path: root.dataset['path'] ?? '/observer' }), root);
