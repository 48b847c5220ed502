// The console: KOCs run communities, polls and drops; factories work their batches; operators
// manage KOCs and factories. A hash router, one screen per route.
import { render } from '../vendor/preact.module.js';
import { useEffect, useRef, useState } from '../vendor/hooks.module.js';
import { gql, loadManifest, mutate, session, subscribe } from './api.js';
import {
  currentLanguage, duration, fenToYuan, fromLocalInput, loadLanguage, localInput, money,
  savedLanguage, t, when, yuanToFen,
} from './i18n.js';
import {
  Bars, CopyButton, Empty, Field, FormErrors, LineChart, Loading, Paged, QrCode, TextField,
  html, unclaimed,
} from './ui.js';

function useRoute() {
  const [hash, setHash] = useState(location.hash || '#/');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/');
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return hash.slice(1).split('/').filter(Boolean);
}

function go(path) {
  location.hash = `#${path}`;
}

const key = () => (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2));

function Status({ code, testid }) {
  return html`<span class=${`status s-${code}`} data-status=${code} data-testid=${testid}>${t(`status.${code}`)}</span>`;
}

// ---------------------------------------------------------------------------------- sign-in --

function SignIn({ onSignedIn }) {
  const [tab, setTab] = useState('qr');
  return html`<main class="signin" id="main">
    <h1>${t('signin.title')}</h1>
    <div role="tablist" class="tabs">
      ${['qr', 'factory', 'dev'].map(
        (name) => html`<button role="tab" aria-selected=${tab === name ? 'true' : 'false'}
          class=${tab === name ? 'tab active' : 'tab'} onClick=${() => setTab(name)}>
          ${t(`signin.${name}`)}</button>`,
      )}
    </div>
    <section role="tabpanel">
      ${tab === 'qr' ? html`<${QrSignIn} onSignedIn=${onSignedIn} />` : null}
      ${tab === 'factory' ? html`<${FactorySignIn} onSignedIn=${onSignedIn} />` : null}
      ${tab === 'dev' ? html`<${DevSignIn} onSignedIn=${onSignedIn} />` : null}
    </section>
  </main>`;
}

function QrSignIn({ onSignedIn }) {
  const [challenge, setChallenge] = useState(null);
  const [errors, setErrors] = useState([]);
  useEffect(() => {
    let stopped = false;
    let timer = null;
    const start = async () => {
      const out = await mutate('ConsoleStartLogin', {}, 'startConsoleLogin');
      if (stopped) return;
      if (!out.ok) {
        setErrors(out.errors);
        return;
      }
      setChallenge(out.payload);
      poll(out.payload.challenge);
    };
    const poll = async (code) => {
      if (stopped) return;
      const out = await mutate('ConsoleCompleteLogin', { challenge: code }, 'completeConsoleLogin');
      if (stopped) return;
      if (out.ok) {
        onSignedIn(out.payload.session);
        return;
      }
      const c = out.errors[0] && out.errors[0].code;
      if (c === 'CONSOLE_LOGIN_PENDING') timer = setTimeout(() => poll(code), 1500);
      else if (c === 'NOT_FOUND') start(); // expired: show a new code
      else setErrors(out.errors);
    };
    start();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, []);
  return html`<div>
    <p>${t('signin.qr.help')}</p>
    <${FormErrors} errors=${errors} />
    ${challenge
      ? html`<div class="qr-box">
          <${QrCode} text=${challenge.challenge} label=${t('signin.qr')} />
          <p><span>${t('signin.qr.code')}: </span><code data-testid="challenge">${challenge.challenge}</code></p>
          <p class="hint">${t('signin.qr.expires')} ${when(challenge.expiresAt)} · ${t('signin.qr.waiting')}</p>
        </div>`
      : html`<${Loading} />`}
  </div>`;
}

function FactorySignIn({ onSignedIn }) {
  const [value, setValue] = useState('');
  const [errors, setErrors] = useState([]);
  const submit = async (e) => {
    e.preventDefault();
    session.set({ factoryKey: value.trim() });
    const out = await gql('ConsoleViewer');
    if (out.errors || !out.data.viewerFactory) {
      session.set(null);
      setErrors([{ field: 'key', code: 'UNAUTHENTICATED', message: (out.errors && out.errors[0].message) || 'Invalid key' }]);
      return;
    }
    onSignedIn({ factoryKey: value.trim(), factory: out.data.viewerFactory });
  };
  return html`<form onSubmit=${submit}>
    <p>${t('signin.factory.help')}</p>
    <${TextField} label=${t('signin.factory.key')} name="key" type="password" value=${value}
      onInput=${setValue} errors=${errors} autocomplete="off" required />
    <button type="submit">${t('signin.submit')}</button>
  </form>`;
}

function DevSignIn({ onSignedIn }) {
  const [code, setCode] = useState('');
  const [errors, setErrors] = useState([]);
  const submit = async (e) => {
    e.preventDefault();
    const out = await mutate('ConsoleDevLogin', { code }, 'loginWithWechat');
    if (!out.ok) {
      setErrors(out.errors.map((x) => ({ ...x, field: x.field || 'code' })));
      return;
    }
    onSignedIn(out.payload.session);
  };
  return html`<form onSubmit=${submit}>
    <p>${t('signin.dev.help')}</p>
    <${TextField} label=${t('signin.dev.code')} name="code" value=${code} onInput=${setCode}
      errors=${errors} required />
    <button type="submit">${t('signin.submit')}</button>
  </form>`;
}

// ------------------------------------------------------------------------------ communities --

function Communities({ path }) {
  const [reload, setReload] = useState(0);
  if (path[1]) return html`<${Members} communityId=${decodeURIComponent(path[1])} />`;
  return html`<section>
    <h1>${t('nav.communities')}</h1>
    <${CreateCommunity} onCreated=${() => setReload(reload + 1)} />
    <${Paged} document="ConsoleCommunities" field="myCommunities" variables=${{}} reloadKey=${reload}
      empty=${html`<${Empty} text=${t('communities.empty')} />`}
      render=${(c) => html`<li class="card">
        <h2><a href=${`#/communities/${encodeURIComponent(c.id)}`}>${c.name}</a></h2>
        <p>${c.description}</p>
        <p>${t('communities.members')}: <strong>${c.memberCount}</strong></p>
        <div class="invite">
          <${QrCode} text=${c.inviteCode} label=${`${t('communities.invite')} ${c.inviteCode}`} />
          <p>${t('communities.invite')}: <code>${c.inviteCode}</code> <${CopyButton} text=${c.inviteCode} /></p>
        </div>
      </li>`} />
  </section>`;
}

function CreateCommunity({ onCreated }) {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [errors, setErrors] = useState([]);
  const [idem] = useState(key);
  if (!open) return html`<button onClick=${() => setOpen(true)}>${t('communities.create')}</button>`;
  const submit = async (e) => {
    e.preventDefault();
    const out = await mutate('ConsoleCreateCommunity', { input: { name, description }, key: idem }, 'createCommunity');
    if (!out.ok) return setErrors(out.errors);
    setOpen(false);
    setName('');
    setDescription('');
    onCreated();
    return null;
  };
  return html`<form class="panel" onSubmit=${submit}>
    <${FormErrors} errors=${unclaimed(errors, ['name', 'description'])} />
    <${TextField} label=${t('communities.name')} name="name" value=${name} onInput=${setName} errors=${errors} />
    <${TextField} label=${t('communities.description')} name="description" value=${description}
      onInput=${setDescription} errors=${errors} />
    <button type="submit">${t('common.create')}</button>
    <button type="button" class="secondary" onClick=${() => setOpen(false)}>${t('common.cancel')}</button>
  </form>`;
}

function Members({ communityId }) {
  const [search, setSearch] = useState('');
  const [tag, setTag] = useState('');
  const [size, setSize] = useState('');
  const vars = { communityId, search: search || null, tag: tag || null, size: size || null };
  return html`<section>
    <p><a href="#/communities">← ${t('common.back')}</a></p>
    <h1>${t('communities.members')}</h1>
    <div class="filters">
      <${TextField} label=${t('members.search')} name="search" value=${search} onInput=${setSearch} />
      <${TextField} label=${t('members.tag')} name="tag" value=${tag} onInput=${setTag} />
      <${TextField} label=${t('members.size')} name="size" value=${size} onInput=${setSize} />
    </div>
    <${Paged} document="ConsoleMembers" field="communityMembers" variables=${vars}
      empty=${html`<${Empty} text=${t('members.empty')} />`}
      render=${(m) => html`<li class="card row">
        <strong>${m.displayName}</strong>
        <span>${m.profile.usualSizes.join(' / ')}</span>
        <span>${m.profile.styleTags.map((x) => html`<span class="tag">${x}</span>`)}</span>
        <small>${t('members.joined')} ${when(m.joinedAt)}</small>
      </li>`} />
  </section>`;
}

// ------------------------------------------------------------------------------------ polls --

function Polls({ path }) {
  if (path[1] === 'new') return html`<${PollForm} />`;
  if (path[1]) return html`<${PollDetail} id=${decodeURIComponent(path[1])} />`;
  return html`<section>
    <h1>${t('nav.polls')}</h1>
    <button onClick=${() => go('/polls/new')}>${t('polls.create')}</button>
    <${Paged} document="ConsolePolls" field="polls" variables=${{}}
      empty=${html`<${Empty} text=${t('polls.empty')} />`}
      render=${(p) => html`<li class="card">
        <h2><a href=${`#/polls/${encodeURIComponent(p.id)}`}>${p.title}</a></h2>
        <p><${Status} code=${p.status} /> ${when(p.opensAt)} – ${when(p.closesAt)}</p>
      </li>`} />
  </section>`;
}

function CommunityPicker({ value, onChange, errors, name }) {
  const [options, setOptions] = useState([]);
  useEffect(() => {
    gql('ConsoleCommunities', { first: 100 }).then((out) => out.data && setOptions(out.data.myCommunities.nodes));
  }, []);
  return html`<${Field} label=${t('polls.communities')} name=${name} errors=${errors}>
    ${(id, describedBy) => html`<select id=${id} multiple aria-describedby=${describedBy}
      onChange=${(e) => onChange([...e.target.selectedOptions].map((o) => o.value))}>
      ${options.map((c) => html`<option value=${c.id} selected=${value.includes(c.id)}>${c.name}</option>`)}
    </select>`}
  </${Field}>`;
}

function PollForm() {
  const now = Date.now();
  const [title, setTitle] = useState('');
  const [description, setDescription] = useState('');
  const [communities, setCommunities] = useState([]);
  const [options, setOptions] = useState([{ title: '', image: '' }, { title: '', image: '' }]);
  const [opensAt, setOpensAt] = useState(localInput(now));
  const [closesAt, setClosesAt] = useState(localInput(now + 3 * 86400_000));
  const [maxChoices, setMaxChoices] = useState('1');
  const [advanceCount, setAdvanceCount] = useState('1');
  const [errors, setErrors] = useState([]);
  const [idem] = useState(key);
  const submit = async (e) => {
    e.preventDefault();
    const input = {
      title, description, communityIds: communities,
      options: options.map((o) => ({ title: o.title, imageUrls: o.image ? [o.image] : [], designerNotes: '' })),
      opensAt: fromLocalInput(opensAt), closesAt: fromLocalInput(closesAt),
      maxChoices: Number(maxChoices), advanceCount: Number(advanceCount), minMemberAgeHours: 0,
    };
    const out = await mutate('ConsoleCreatePoll', { input, key: idem }, 'createPoll');
    if (!out.ok) return setErrors(out.errors);
    go(`/polls/${encodeURIComponent(out.payload.poll.id)}`);
    return null;
  };
  const fields = ['title', 'description', 'communityIds', 'options', 'opensAt', 'closesAt', 'maxChoices', 'advanceCount'];
  return html`<form class="panel" onSubmit=${submit}>
    <h1>${t('polls.create')}</h1>
    <${FormErrors} errors=${unclaimed(errors, fields)} />
    <${TextField} label=${t('polls.title')} name="title" value=${title} onInput=${setTitle} errors=${errors} />
    <${TextField} label=${t('polls.description')} name="description" value=${description} onInput=${setDescription} errors=${errors} />
    <${CommunityPicker} name="communityIds" value=${communities} onChange=${setCommunities} errors=${errors} />
    <fieldset>
      <legend>${t('polls.options')}</legend>
      ${options.map((o, i) => html`<div class="option">
        <${TextField} label=${`${t('polls.option')} ${i + 1}`} name=${`options[${i}].title`}
          value=${o.title} errors=${errors} onInput=${(v) => setOptions(options.map((x, j) => (j === i ? { ...x, title: v } : x)))} />
        <${TextField} label=${`${t('polls.optionImage')} ${i + 1}`} name=${`options[${i}].imageUrls`} type="url"
          value=${o.image} errors=${errors} placeholder="https://" onInput=${(v) => setOptions(options.map((x, j) => (j === i ? { ...x, image: v } : x)))} />
      </div>`)}
      <button type="button" class="secondary" onClick=${() => setOptions([...options, { title: '', image: '' }])}>${t('polls.addOption')}</button>
    </fieldset>
    <${TextField} label=${t('polls.opensAt')} name="opensAt" type="datetime-local" value=${opensAt} onInput=${setOpensAt} errors=${errors} />
    <${TextField} label=${t('polls.closesAt')} name="closesAt" type="datetime-local" value=${closesAt} onInput=${setClosesAt} errors=${errors} />
    <${TextField} label=${t('polls.maxChoices')} name="maxChoices" type="number" min="1" value=${maxChoices} onInput=${setMaxChoices} errors=${errors} />
    <${TextField} label=${t('polls.advanceCount')} name="advanceCount" type="number" min="1" value=${advanceCount} onInput=${setAdvanceCount} errors=${errors} />
    <button type="submit">${t('common.create')}</button>
  </form>`;
}

function PollDetail({ id }) {
  const [poll, setPoll] = useState(null);
  const [results, setResults] = useState(null);
  const [errors, setErrors] = useState([]);
  const [voters, setVoters] = useState(null);
  const load = async () => {
    const out = await gql('ConsolePoll', { id });
    if (out.data && out.data.node) {
      setPoll(out.data.node);
      setResults(out.data.node.results);
    }
  };
  useEffect(() => {
    load();
  }, [id]);
  useEffect(() => {
    if (!poll || poll.status !== 'OPEN') return undefined;
    return subscribe('ConsolePollResults', { pollId: id }, (data) => setResults(data.pollResults));
  }, [poll && poll.status]);
  if (!poll) return html`<${Loading} />`;
  const act = async (doc, field) => {
    const out = await mutate(doc, { id }, field);
    setErrors(out.errors);
    if (out.ok) load();
  };
  return html`<section>
    <p><a href="#/polls">← ${t('common.back')}</a></p>
    <h1>${poll.title}</h1>
    <p><${Status} code=${poll.status} testid="poll-status" /></p>
    <${FormErrors} errors=${errors} />
    <div class="actions">
      ${poll.status === 'DRAFT' ? html`<button onClick=${() => act('ConsolePublishPoll', 'publishPoll')}>${t('polls.publish')}</button>` : null}
      ${poll.status === 'OPEN' ? html`<button onClick=${() => act('ConsoleClosePoll', 'closePoll')}>${t('polls.close')}</button>` : null}
    </div>
    <h2>${t('polls.results')}</h2>
    ${results
      ? html`<p>${t('polls.voters')}: <strong data-testid="total-voters">${results.totalVoters}</strong></p>
        <${Bars} label=${t('polls.results')} rows=${results.options.map((r) => ({
          label: `#${r.rank} ${r.option.title}${r.advanced ? ` · ${t('polls.advanced')}` : ''}`,
          value: r.votes,
          highlight: r.advanced,
          testid: `votes-${r.option.title}`,
        }))} />
        <ul class="plain">${results.options.map((r) => html`<li>
          <button class="link" onClick=${() => setVoters(r.option)}>${t('polls.optionVoters')}: ${r.option.title}</button></li>`)}</ul>`
      : null}
    ${voters
      ? html`<div class="panel"><h3>${t('polls.optionVoters')}: ${voters.title}</h3>
          <${Paged} document="ConsoleOptionVoters" field="pollOptionVoters" variables=${{ optionId: voters.id }}
            empty=${html`<${Empty} text="—" />`} render=${(u) => html`<li class="card row">${u.displayName}</li>`} /></div>`
      : null}
    ${poll.status === 'CLOSED' ? html`<${PollAnalytics} id=${id} />` : null}
    ${poll.drafts && poll.drafts.length
      ? html`<h2>${t('polls.drafts')}</h2>
        <ul class="cards">${poll.drafts.map((d) => html`<li class="card">
          <a href=${`#/drops/${encodeURIComponent(d.id)}/edit`} data-testid="draft-link">${d.title}</a>
          <${Status} code=${d.status} /></li>`)}</ul>`
      : null}
  </section>`;
}

// ------------------------------------------------------------------------------------ drops --

function Drops({ path }) {
  if (path[1] === 'new') return html`<${DropForm} />`;
  if (path[1] && path[2] === 'edit') return html`<${DropForm} id=${decodeURIComponent(path[1])} />`;
  if (path[1]) return html`<${DropDetail} id=${decodeURIComponent(path[1])} />`;
  return html`<section>
    <h1>${t('nav.drops')}</h1>
    <button onClick=${() => go('/drops/new')}>${t('drops.create')}</button>
    <${Paged} document="ConsoleDrops" field="drops" variables=${{}}
      empty=${html`<${Empty} text=${t('drops.empty')} />`}
      render=${(d) => html`<li class="card">
        <h2><a href=${`#/drops/${encodeURIComponent(d.id)}`}>${d.title}</a></h2>
        <p><${Status} code=${d.status} /> ${when(d.opensAt)} – ${when(d.closesAt)}</p>
        <p>${t('drops.moq')} ${d.moq} · ${t('drops.cap')} ${d.cap}</p>
      </li>`} />
  </section>`;
}

function DropForm({ id }) {
  const now = Date.now();
  const [loaded, setLoaded] = useState(!id);
  const [form, setForm] = useState({
    title: '', description: '', communityIds: [], sizes: 'S, M, L', colors: '黑, 白', price: '199.00',
    paymentMode: 'FULL', deposit: '', tiers: '', moq: '10', cap: '100', limit: '5',
    opensAt: localInput(now), closesAt: localInput(now + 7 * 86400_000), pollOptionId: null,
  });
  const [errors, setErrors] = useState([]);
  const [idem] = useState(key);
  const set = (k) => (v) => setForm({ ...form, [k]: v });
  useEffect(() => {
    if (!id) return;
    gql('ConsoleDrop', { id }).then((out) => {
      const d = out.data && out.data.node;
      if (!d) return;
      const sizes = [...new Set(d.variants.map((v) => v.size))];
      const colors = [...new Set(d.variants.map((v) => v.color))];
      setForm({
        title: d.title, description: d.description, communityIds: [],
        sizes: sizes.join(', ') || 'S, M, L', colors: colors.join(', ') || '黑, 白',
        price: fenToYuan(d.price.amountFen), paymentMode: d.paymentMode,
        deposit: d.deposit ? fenToYuan(d.deposit.amountFen) : '',
        tiers: d.tiers.map((x) => `${x.minQuantity}:${fenToYuan(x.price.amountFen)}`).join(', '),
        moq: String(d.moq), cap: String(d.cap), limit: String(d.perMemberLimit),
        opensAt: localInput(Math.max(Date.parse(d.opensAt), now)),
        closesAt: localInput(Math.max(Date.parse(d.closesAt), now + 86400_000)),
        pollOptionId: d.pollOptionId,
      });
      setLoaded(true);
    });
  }, [id]);
  if (!loaded) return html`<${Loading} />`;
  const split = (s) => s.split(/[,，]/).map((x) => x.trim()).filter(Boolean);
  const variants = split(form.sizes).flatMap((size) => split(form.colors).map((color) => ({ size, color })));
  const submit = async (e) => {
    e.preventDefault();
    const local = [];
    const priceFen = yuanToFen(form.price);
    if (priceFen === null) local.push({ field: 'priceFen', code: 'INVALID_INPUT', message: '¥ 0.00' });
    const tiers = split(form.tiers).map((x) => {
      const [q, p] = x.split(':');
      return { minQuantity: Number(q), priceFen: yuanToFen(p) };
    });
    if (tiers.some((x) => !x.minQuantity || x.priceFen === null)) local.push({ field: 'tiers', code: 'INVALID_INPUT', message: '10:159.00, 50:139.00' });
    if (local.length) return setErrors(local);
    const input = {
      title: form.title, description: form.description, communityIds: form.communityIds,
      variants, priceFen, paymentMode: form.paymentMode,
      depositFen: form.paymentMode === 'DEPOSIT' ? yuanToFen(form.deposit) : null, tiers,
      moq: Number(form.moq), cap: Number(form.cap), perMemberLimit: Number(form.limit),
      opensAt: fromLocalInput(form.opensAt), closesAt: fromLocalInput(form.closesAt),
      imageUrls: [], sizeChart: '', pollOptionId: form.pollOptionId,
      unpaidExpiryMinutes: 30, keepDepositOnDefault: false, voterHeadStartMinutes: 0,
    };
    const out = id
      ? await mutate('ConsoleUpdateDrop', { id, input }, 'updateDrop')
      : await mutate('ConsoleCreateDrop', { input, key: idem }, 'createDrop');
    if (!out.ok) return setErrors(out.errors);
    go(`/drops/${encodeURIComponent(out.payload.drop.id)}`);
    return null;
  };
  const fields = ['title', 'description', 'communityIds', 'variants', 'priceFen', 'paymentMode', 'depositFen', 'tiers', 'moq', 'cap', 'perMemberLimit', 'opensAt', 'closesAt'];
  return html`<form class="panel" onSubmit=${submit}>
    <h1>${id ? t('drops.edit') : t('drops.create')}</h1>
    <${FormErrors} errors=${unclaimed(errors, fields)} />
    <${TextField} label=${t('drops.title')} name="title" value=${form.title} onInput=${set('title')} errors=${errors} />
    <${TextField} label=${t('drops.description')} name="description" value=${form.description} onInput=${set('description')} errors=${errors} />
    <${CommunityPicker} name="communityIds" value=${form.communityIds} onChange=${set('communityIds')} errors=${errors} />
    <${TextField} label=${t('drops.sizes')} name="sizes" value=${form.sizes} onInput=${set('sizes')} errors=${errors} />
    <${TextField} label=${t('drops.colors')} name="colors" value=${form.colors} onInput=${set('colors')} errors=${errors} />
    <table class="grid" aria-label=${t('drops.variants')}>
      <thead><tr><th scope="col">${t('drops.variants')}</th>${split(form.colors).map((c) => html`<th scope="col">${c}</th>`)}</tr></thead>
      <tbody>${split(form.sizes).map((s) => html`<tr><th scope="row">${s}</th>${split(form.colors).map(() => html`<td>✓</td>`)}</tr>`)}</tbody>
    </table>
    <${FormErrors} errors=${errors.filter((x) => x.field && x.field.startsWith('variants'))} />
    <${TextField} label=${t('drops.price')} name="priceFen" value=${form.price} onInput=${set('price')} errors=${errors} inputmode="decimal" />
    <${Field} label=${t('drops.paymentMode')} name="paymentMode" errors=${errors}>
      ${(fid) => html`<select id=${fid} value=${form.paymentMode} onChange=${(e) => set('paymentMode')(e.target.value)}>
        <option value="FULL">${t('drops.mode.FULL')}</option><option value="DEPOSIT">${t('drops.mode.DEPOSIT')}</option></select>`}
    </${Field}>
    ${form.paymentMode === 'DEPOSIT'
      ? html`<${TextField} label=${t('drops.deposit')} name="depositFen" value=${form.deposit} onInput=${set('deposit')} errors=${errors} />`
      : null}
    <${TextField} label=${t('drops.tiers')} name="tiers" value=${form.tiers} onInput=${set('tiers')} errors=${errors} />
    <${TextField} label=${t('drops.moq')} name="moq" type="number" value=${form.moq} onInput=${set('moq')} errors=${errors} />
    <${TextField} label=${t('drops.cap')} name="cap" type="number" value=${form.cap} onInput=${set('cap')} errors=${errors} />
    <${TextField} label=${t('drops.limit')} name="perMemberLimit" type="number" value=${form.limit} onInput=${set('limit')} errors=${errors} />
    <${TextField} label=${t('drops.opensAt')} name="opensAt" type="datetime-local" value=${form.opensAt} onInput=${set('opensAt')} errors=${errors} />
    <${TextField} label=${t('drops.closesAt')} name="closesAt" type="datetime-local" value=${form.closesAt} onInput=${set('closesAt')} errors=${errors} />
    <button type="submit">${t('common.save')}</button>
  </form>`;
}

function DropDetail({ id }) {
  const [drop, setDrop] = useState(null);
  const [progress, setProgress] = useState(null);
  const [points, setPoints] = useState([]);
  const [errors, setErrors] = useState([]);
  const [production, setProduction] = useState(null);
  const [factories, setFactories] = useState('');
  const load = async () => {
    const out = await gql('ConsoleDrop', { id });
    const d = out.data && out.data.node;
    if (!d) return;
    setDrop(d);
    setProgress(d.progress);
    setPoints((p) => [...p, [Date.now() / 1000, d.progress.totalQuantity]]);
    const prod = await gql('ConsoleProduction', { id });
    if (prod.data) setProduction(prod.data.dropProduction);
  };
  useEffect(() => {
    load();
  }, [id]);
  useEffect(() => {
    if (!drop || !['OPEN', 'SCHEDULED'].includes(drop.status)) return undefined;
    return subscribe('ConsoleDropProgress', { dropId: id }, (data) => {
      setProgress(data.dropProgress);
      setPoints((p) => [...p.slice(-500), [Date.now() / 1000, data.dropProgress.totalQuantity]]);
    });
  }, [drop && drop.status]);
  useEffect(() => {
    if (!drop || !['CLOSED', 'SUCCEEDED'].includes(drop.status)) return undefined;
    const timer = setInterval(load, 3000); // settlement and planning run in the worker
    return () => clearInterval(timer);
  }, [drop && drop.status]);
  if (!drop) return html`<${Loading} />`;
  const act = async (doc, field, vars = { id }) => {
    const out = await mutate(doc, vars, field);
    setErrors(out.errors);
    if (out.ok) load();
  };
  const p = progress;
  return html`<section>
    <p><a href="#/drops">← ${t('common.back')}</a></p>
    <h1>${drop.title}</h1>
    <p><${Status} code=${drop.status} testid="drop-status" />
      ${money(drop.price)} · ${t('drops.moq')} ${drop.moq} · ${t('drops.cap')} ${drop.cap}</p>
    <${FormErrors} errors=${errors} />
    <div class="actions">
      ${drop.status === 'DRAFT' ? html`<a class="button secondary" href=${`#/drops/${encodeURIComponent(id)}/edit`}>${t('drops.edit')}</a>
        <button onClick=${() => act('ConsolePublishDrop', 'publishDrop')}>${t('drops.publish')}</button>` : null}
      ${['OPEN', 'SCHEDULED'].includes(drop.status) ? html`<button onClick=${() => act('ConsoleCloseDrop', 'closeDrop')}>${t('drops.close')}</button>` : null}
      ${drop.status === 'CLOSED' ? html`<button onClick=${() => act('ConsoleSettleDrop', 'settleDrop')}>${t('drops.settle')}</button>` : null}
    </div>
    ${p
      ? html`<h2>${t('drops.progress')}</h2>
        <dl class="stats">
          <div><dt>${t('drops.units')}</dt><dd data-testid="units">${p.totalQuantity}</dd></div>
          <div><dt>${t('drops.buyers')}</dt><dd data-testid="buyers">${p.buyers}</dd></div>
          <div><dt>${t('drops.remaining')}</dt><dd>${p.remaining}</dd></div>
          <div><dt>${t('drops.currentPrice')}</dt><dd>${money(p.currentPrice)}</dd></div>
          <div><dt>${t('drops.nextTier')}</dt><dd>${p.nextTier ? p.nextTier.minQuantity : '—'}</dd></div>
          <div><dt>${t('drops.timeLeft')}</dt><dd>${duration(p.secondsLeft)}</dd></div>
        </dl>
        <p>${t('drops.moqReached')}</p>
        <progress max="100" value=${Math.min(100, p.moqPercent)} aria-label=${t('drops.moqReached')}>${p.moqPercent}%</progress>
        <${LineChart} points=${points} target=${drop.moq} label=${t('drops.progress')} />
        <div class="two">
          <div><h3>${t('drops.perSize')}</h3><${Bars} label=${t('drops.perSize')} rows=${p.perSize.map((g) => ({ label: g.value, value: g.quantity }))} /></div>
          <div><h3>${t('drops.perColor')}</h3><${Bars} label=${t('drops.perColor')} rows=${p.perColor.map((g) => ({ label: g.value, value: g.quantity }))} /></div>
        </div>`
      : null}
    <${DraftExtras} id=${id} draft=${drop.status === 'DRAFT'} />
    <${DropAnalytics} id=${id} />
    ${production
      ? html`<h2>${t('drops.settlement')}</h2>
        <dl class="stats">
          <div><dt>${t('common.status')}</dt><dd data-testid="settlement-status">${t(`status.${production.settlement.dropStatus}`)}</dd></div>
          <div><dt>${t('drops.unitsConfirmed')}</dt><dd>${production.settlement.unitsConfirmed}</dd></div>
          <div><dt>${t('drops.unitsPlanned')}</dt><dd>${production.settlement.unitsPlanned}</dd></div>
          <div><dt>${t('drops.refundsPending')}</dt><dd>${production.settlement.refundsPending}</dd></div>
        </dl>
        <h3>${t('drops.orders')}</h3>
        <${Bars} label=${t('drops.orders')} rows=${production.settlement.ordersByStatus.map((s) => ({ label: t(`status.${s.status}`), value: s.orders }))} />
        <h2>${t('drops.production')}</h2>
        <form class="inline" onSubmit=${(e) => {
          e.preventDefault();
          act('ConsoleAssignFactories', 'assignFactories', { id, factoryIds: factories.split(/[,，\s]+/).filter(Boolean) });
        }}>
          <${TextField} label=${t('drops.assign')} name="factoryIds" value=${factories} onInput=${setFactories} errors=${errors} />
          <button type="submit">${t('common.save')}</button>
        </form>
        <ul class="cards">${production.batches.map((b) => html`<${BatchCard} batch=${b} readOnly=${true} />`)}</ul>`
      : null}
  </section>`;
}

// Try-on photos and videos (uploaded straight to the store, checked by the server) and the
// factory sample, while the drop is a draft; shown afterwards.
function DraftExtras({ id, draft }) {
  const [extras, setExtras] = useState(null);
  const [errors, setErrors] = useState([]);
  const [caption, setCaption] = useState('');
  const [busy, setBusy] = useState(false);
  const [factoryId, setFactoryId] = useState('');
  const [note, setNote] = useState('');
  const fileInput = useRef(null);
  const load = async () => {
    const out = await gql('ConsoleDraftExtras', { id });
    if (out.data && out.data.node) setExtras(out.data.node);
  };
  useEffect(() => {
    load();
  }, [id]);
  if (!extras) return null;
  const media = extras.tryOnMedia;
  const saveMedia = async (list) => {
    const out = await mutate('ConsoleSetMedia', { id, media: list }, 'setTryOnMedia');
    setErrors(out.errors);
    if (out.ok) load();
    return out.ok;
  };
  const upload = async (e) => {
    e.preventDefault();
    const file = fileInput.current && fileInput.current.files[0];
    if (!file) return;
    setBusy(true);
    try {
      // The kind is the client's guess; the server reads the type from the bytes.
      const kind = file.type.startsWith('video/') ? 'VIDEO' : 'IMAGE';
      const made = await mutate('ConsoleCreateUpload', { input: { dropId: id, kind, sizeBytes: file.size } }, 'createMediaUpload');
      if (!made.ok) return setErrors(made.errors.map((x) => ({ ...x, field: 'file' })));
      const u = made.payload.upload;
      const headers = Object.fromEntries(u.uploadHeaders.map((hd) => [hd.name, hd.value]));
      const put = await fetch(u.uploadUrl, { method: u.uploadMethod, body: file, headers });
      if (!put.ok) return setErrors([{ field: 'file', code: `HTTP_${put.status}`, message: `HTTP ${put.status}` }]);
      const done = await mutate('ConsoleCompleteUpload', { id: u.id }, 'completeMediaUpload');
      if (!done.ok) return setErrors(done.errors.map((x) => ({ ...x, field: 'file' })));
      const list = [...media.map((m) => ({ kind: m.kind, url: m.url, caption: m.caption })), { kind, uploadId: u.id, caption }];
      if (await saveMedia(list)) {
        setCaption('');
        fileInput.current.value = '';
      }
    } finally {
      setBusy(false);
    }
    return null;
  };
  const sample = extras.sample;
  return html`<div>
    <h2>${t('media.title')}</h2>
    ${media.length
      ? html`<ul class="media">${media.map((m, i) => html`<li>
          ${m.kind === 'IMAGE' ? html`<img src=${m.url} alt=${m.caption || t('media.photo')} />` : html`<a href=${m.url}>${t('media.video')}</a>`}
          <span>${m.caption}</span>
          ${draft ? html`<button class="link" onClick=${() => saveMedia(media.filter((_, j) => j !== i).map((x) => ({ kind: x.kind, url: x.url, caption: x.caption })))}>${t('media.remove')}</button>` : null}
        </li>`)}</ul>`
      : html`<${Empty} text=${t('media.empty')} />`}
    <${FormErrors} errors=${unclaimed(errors, ['file', 'caption'])} />
    ${draft ? html`<form class="inline" onSubmit=${upload}>
      <${Field} label=${t('media.file')} name="file" errors=${errors}>
        ${(fid, describedBy) => html`<input id=${fid} type="file" accept="image/jpeg,image/png,image/webp,video/mp4,video/quicktime,video/webm" ref=${fileInput} aria-describedby=${describedBy} />`}
      </${Field}>
      <${TextField} label=${t('media.caption')} name="caption" value=${caption} onInput=${setCaption} errors=${errors} />
      <button type="submit" disabled=${busy}>${t('media.upload')}</button>
    </form>` : null}
    <h2>${t('sample.title')}</h2>
    ${sample
      ? html`<p><${Status} code=${sample.status} testid="sample-status" />
          ${sample.trackingNumber ? html` · ${sample.carrier} ${sample.trackingNumber}` : null}
          ${sample.status === 'SAMPLE_SHIPPED' ? html` <button onClick=${async () => {
            const out = await mutate('ConsoleConfirmSample', { id: sample.id }, 'confirmSampleReceived');
            setErrors(out.errors);
            load();
          }}>${t('sample.confirm')}</button>` : null}</p>`
      : draft
        ? html`<form class="inline" onSubmit=${async (e) => {
            e.preventDefault();
            const out = await mutate('ConsoleRequestSample', { id, factoryId: factoryId.trim(), note }, 'requestSample');
            setErrors(out.errors);
            if (out.ok) load();
          }}>
            <${TextField} label=${t('sample.factoryId')} name="factoryId" value=${factoryId} onInput=${setFactoryId} errors=${errors} />
            <${TextField} label=${t('sample.note')} name="note" value=${note} onInput=${setNote} errors=${errors} />
            <button type="submit">${t('sample.request')}</button>
          </form>`
        : html`<${Empty} text=${t('sample.none')} />`}
  </div>`;
}

function DropAnalytics({ id }) {
  const [data, setData] = useState(null);
  useEffect(() => {
    gql('ConsoleDropAnalytics', { id }).then((out) => out.data && setData(out.data));
  }, [id]);
  if (!data || !data.dropAnalytics) return null;
  const a = data.dropAnalytics;
  const teams = (data.node && data.node.openTeams && data.node.openTeams.nodes) || [];
  const pct = (x) => (x == null ? '—' : `${(100 * x).toFixed(0)}%`);
  return html`<div>
    <h2>${t('analytics.title')}</h2>
    <dl class="stats">
      <div><dt>${t('analytics.gmv')}</dt><dd>${money(a.gmv)}</dd></div>
      <div><dt>${t('drops.buyers')}</dt><dd>${a.buyers} / ${a.audience}</dd></div>
      <div><dt>${t('analytics.arppu')}</dt><dd>${money(a.arppu)}</dd></div>
      <div><dt>${t('analytics.refunds')}</dt><dd>${money(a.refunds)}</dd></div>
      <div><dt>${t('analytics.teamFill')}</dt><dd>${a.teamsFilled}/${a.teamsOpened} (${pct(a.teamFillRate)})</dd></div>
      <div><dt>${t('analytics.referred')}</dt><dd>${a.referredBuyers}</dd></div>
    </dl>
    <${Bars} label=${t('analytics.votedBuyers')} rows=${[
      { label: t('analytics.votedFor'), value: a.buyersWhoVotedForIt },
      { label: t('analytics.votedOther'), value: a.buyersWhoVotedOther },
      { label: t('analytics.didNotVote'), value: a.buyersWhoDidNotVote },
    ]} />
    <h3>${t('teams.open')}</h3>
    ${teams.length
      ? html`<ul class="cards">${teams.map((tm) => html`<li class="card row">
          <strong>${tm.leader.displayName}</strong>
          <span>${tm.seatsPaid}/${tm.seatsTaken}/${tm.size}</span>
          <${Status} code=${tm.status} />
          <small>${when(tm.deadline)}</small></li>`)}</ul>`
      : html`<${Empty} text=${t('teams.empty')} />`}
  </div>`;
}

function PollAnalytics({ id }) {
  const [a, setA] = useState(null);
  useEffect(() => {
    gql('ConsolePollAnalytics', { id }).then((out) => out.data && setA(out.data.pollAnalytics));
  }, [id]);
  if (!a) return null;
  const pct = (x) => (x == null ? '—' : `${(100 * x).toFixed(0)}%`);
  return html`<div>
    <h2>${t('analytics.conversion')}</h2>
    <p>${t('polls.voters')}: ${a.voters} / ${a.audience}</p>
    <table class="lines" aria-label=${t('analytics.conversion')}>
      <thead><tr><th scope="col">${t('polls.option')}</th><th scope="col">${t('analytics.voterRate')}</th>
        <th scope="col">${t('analytics.nonVoterRate')}</th></tr></thead>
      <tbody>${a.options.map((o) => html`<tr><td>${o.title}</td>
        <td>${o.voters.buyers}/${o.voters.members} (${pct(o.voters.rate)})</td>
        <td>${o.nonVoters.buyers}/${o.nonVoters.members} (${pct(o.nonVoters.rate)})</td></tr>`)}</tbody>
    </table>
  </div>`;
}

// ---------------------------------------------------------------------------------- factory --

function BatchCard({ batch, onChange, readOnly }) {
  const [stage, setStage] = useState('CUTTING');
  const [note, setNote] = useState('');
  const [carrier, setCarrier] = useState('');
  const [tracking, setTracking] = useState('');
  const [qty, setQty] = useState({});
  const [errors, setErrors] = useState([]);
  const run = async (doc, field, vars) => {
    const out = await mutate(doc, { id: batch.id, ...vars }, field);
    setErrors(out.errors);
    if (out.ok && onChange) onChange(out.payload.batch);
  };
  return html`<li class="card batch" data-testid="batch">
    <h3>${batch.drop.title} · #${batch.sequence}</h3>
    <p><${Status} code=${batch.status} testid="batch-status" />
      ${batch.stage ? html` · ${t(`stage.${batch.stage}`)}` : null} · ${when(batch.updatedAt)}</p>
    <table class="lines">
      <thead><tr><th scope="col">${t('members.size')}</th><th scope="col">${t('drops.color')}</th>
        <th scope="col">${t('batches.quantity')}</th><th scope="col">${t('batches.shipped')}</th></tr></thead>
      <tbody>${batch.lines.map((l) => html`<tr><td>${l.size}</td><td>${l.color}</td><td>${l.quantity}</td><td>${l.shipped}</td></tr>`)}</tbody>
    </table>
    <p class="links">
      <a href=${batch.sheetUrl} data-testid="sheet-link">${t('batches.sheet')}</a>
      <a href=${batch.linesUrl} data-testid="lines-link">${t('batches.lines')}</a>
      <a href=${batch.packingListUrl}>${t('batches.packing')}</a>
    </p>
    <${FormErrors} errors=${unclaimed(errors, ['carrier', 'trackingNumber', 'note'])} />
    ${readOnly ? null : html`<div class="steps">
      ${batch.status === 'CREATED' ? html`<button onClick=${() => run('ConsoleAcceptBatch', 'acceptBatch', {})}>${t('batches.accept')}</button>` : null}
      ${['ACCEPTED', 'IN_PRODUCTION'].includes(batch.status) ? html`<form class="inline" onSubmit=${(e) => {
        e.preventDefault();
        run('ConsoleReportProgress', 'reportProgress', { stage, note });
      }}>
        <${Field} label=${t('batches.stage')} name="stage" errors=${errors}>
          ${(fid) => html`<select id=${fid} value=${stage} onChange=${(e) => setStage(e.target.value)}>
            ${['CUTTING', 'SEWING', 'QC', 'PACKED'].map((s) => html`<option value=${s}>${t(`stage.${s}`)}</option>`)}</select>`}
        </${Field}>
        <${TextField} label=${t('batches.note')} name="note" value=${note} onInput=${setNote} errors=${errors} />
        <button type="submit">${t('batches.report')}</button>
      </form>
      <form class="inline" onSubmit=${(e) => {
        e.preventDefault();
        run('ConsoleShipBatch', 'shipBatch', {
          carrier, trackingNumber: tracking,
          quantities: batch.lines.map((l) => ({ variantId: l.variant.id, quantity: Number(qty[l.variant.id] || 0) })).filter((q) => q.quantity > 0),
        });
      }}>
        <${TextField} label=${t('batches.carrier')} name="carrier" value=${carrier} onInput=${setCarrier} errors=${errors} />
        <${TextField} label=${t('batches.tracking')} name="trackingNumber" value=${tracking} onInput=${setTracking} errors=${errors} />
        ${batch.lines.map((l) => html`<${TextField} label=${`${t('batches.quantity')} ${l.size}/${l.color}`}
          name=${`q-${l.variant.id}`} type="number" min="0" max=${l.quantity - l.shipped}
          value=${qty[l.variant.id] || ''} onInput=${(v) => setQty({ ...qty, [l.variant.id]: v })} />`)}
        <button type="submit">${t('batches.ship')}</button>
      </form>` : null}
    </div>`}
  </li>`;
}

function SampleCard({ sample, onChange }) {
  const [carrier, setCarrier] = useState('');
  const [tracking, setTracking] = useState('');
  const [errors, setErrors] = useState([]);
  const run = async (doc, field, vars) => {
    const out = await mutate(doc, { id: sample.id, ...vars }, field);
    setErrors(out.errors);
    if (out.ok) onChange();
  };
  return html`<li class="card" data-testid="sample">
    <h3>${sample.drop.title}</h3>
    <p><${Status} code=${sample.status} testid="factory-sample-status" /> · ${when(sample.requestedAt)}</p>
    <p>${sample.note}</p>
    <${FormErrors} errors=${unclaimed(errors, ['carrier', 'trackingNumber'])} />
    ${sample.status === 'REQUESTED' ? html`<button onClick=${() => run('ConsoleAcceptSample', 'acceptSample', {})}>${t('batches.accept')}</button>` : null}
    ${sample.status === 'SAMPLING' ? html`<form class="inline" onSubmit=${(e) => {
      e.preventDefault();
      run('ConsoleShipSample', 'shipSample', { carrier, trackingNumber: tracking });
    }}>
      <${TextField} label=${t('batches.carrier')} name="carrier" value=${carrier} onInput=${setCarrier} errors=${errors} />
      <${TextField} label=${t('batches.tracking')} name="trackingNumber" value=${tracking} onInput=${setTracking} errors=${errors} />
      <button type="submit">${t('batches.ship')}</button>
    </form>` : null}
    ${sample.trackingNumber ? html`<p>${sample.carrier} ${sample.trackingNumber}</p>` : null}
  </li>`;
}

function Samples() {
  const [reload, setReload] = useState(0);
  return html`<section>
    <h2>${t('sample.requests')}</h2>
    <${Paged} document="ConsoleSampleRequests" field="sampleRequests" variables=${{}} reloadKey=${reload}
      empty=${html`<${Empty} text=${t('sample.noneRequested')} />`}
      render=${(x) => html`<${SampleCard} sample=${x} onChange=${() => setReload(reload + 1)} />`} />
  </section>`;
}

function Batches() {
  const [status, setStatus] = useState('');
  const [reload, setReload] = useState(0);
  return html`<section>
    <${Samples} />
    <h1>${t('nav.batches')}</h1>
    <${Field} label=${t('batches.filter')} name="status">
      ${(fid) => html`<select id=${fid} value=${status} onChange=${(e) => setStatus(e.target.value)}>
        <option value="">${t('batches.all')}</option>
        ${['CREATED', 'ACCEPTED', 'IN_PRODUCTION', 'SHIPPED'].map((s) => html`<option value=${s}>${t(`status.${s}`)}</option>`)}
      </select>`}
    </${Field}>
    <${Paged} document="ConsoleBatches" field="batchOrders" variables=${{ status: status || null }} reloadKey=${reload}
      empty=${html`<${Empty} text=${t('batches.empty')} />`}
      render=${(b) => html`<${BatchCard} batch=${b} onChange=${() => setReload(reload + 1)} />`} />
  </section>`;
}

// --------------------------------------------------------------------------------- operator --

function Operator() {
  const [userId, setUserId] = useState('');
  const [roleErrors, setRoleErrors] = useState([]);
  const [done, setDone] = useState(null);
  const [name, setName] = useState('');
  const [contact, setContact] = useState('');
  const [factoryErrors, setFactoryErrors] = useState([]);
  const [reload, setReload] = useState(0);
  const role = async (doc, field) => {
    const out = await mutate(doc, { userId: userId.trim() }, field);
    setRoleErrors(out.errors.map((e) => ({ ...e, field: e.field || 'userId' })));
    setDone(out.ok ? `${out.payload.user.displayName}: ${out.payload.user.roles.join(', ')}` : null);
  };
  return html`<section>
    <h1>${t('nav.operator')}</h1>
    <div class="panel">
      <h2>${t('operator.koc')}</h2>
      <${TextField} label=${t('operator.userId')} name="userId" value=${userId} onInput=${setUserId} errors=${roleErrors} />
      <button onClick=${() => role('ConsoleGrantKoc', 'grantKocRole')}>${t('operator.grant')}</button>
      <button class="secondary" onClick=${() => role('ConsoleRevokeKoc', 'revokeKocRole')}>${t('operator.revoke')}</button>
      ${done ? html`<p role="status">${t('operator.done')}: ${done}</p>` : null}
    </div>
    <div class="panel">
      <h2>${t('operator.factories')}</h2>
      <form class="inline" onSubmit=${async (e) => {
        e.preventDefault();
        const out = await mutate('ConsoleCreateFactory', { input: { name, contact } }, 'createFactory');
        setFactoryErrors(out.errors);
        if (out.ok) {
          setName('');
          setContact('');
          setReload(reload + 1);
        }
      }}>
        <${TextField} label=${t('operator.factoryName')} name="name" value=${name} onInput=${setName} errors=${factoryErrors} />
        <${TextField} label=${t('operator.contact')} name="contact" value=${contact} onInput=${setContact} errors=${factoryErrors} />
        <button type="submit">${t('common.create')}</button>
      </form>
      <${Paged} document="ConsoleFactories" field="factories" variables=${{}} reloadKey=${reload}
        empty=${html`<${Empty} text=${t('operator.empty')} />`}
        render=${(f) => html`<${FactoryCard} factory=${f} onChange=${() => setReload(reload + 1)} />`} />
    </div>
  </section>`;
}

function FactoryCard({ factory, onChange }) {
  const [keyName, setKeyName] = useState('');
  const [secret, setSecret] = useState(null);
  const [errors, setErrors] = useState([]);
  return html`<li class="card" data-testid="factory">
    <h3>${factory.name}</h3>
    <p><small>ID: <code data-testid="factory-id">${factory.id}</code></small> ${factory.contact}</p>
    <ul class="plain">${factory.apiKeys.map((k) => html`<li>
      <code>${k.prefix}…</code> ${k.name} · ${when(k.createdAt)}
      ${k.revokedAt ? html` · <em>revoked</em>` : html`<button class="link" onClick=${async () => {
        await mutate('ConsoleRevokeFactoryKey', { keyId: k.id }, 'revokeFactoryApiKey');
        onChange();
      }}>${t('operator.revokeKey')}</button>`}</li>`)}</ul>
    <form class="inline" onSubmit=${async (e) => {
      e.preventDefault();
      const out = await mutate('ConsoleCreateFactoryKey', { factoryId: factory.id, name: keyName }, 'createFactoryApiKey');
      setErrors(out.errors);
      if (out.ok) setSecret(out.payload.secret);
    }}>
      <${TextField} label=${t('operator.keyName')} name="name" value=${keyName} onInput=${setKeyName} errors=${errors} />
      <button type="submit">${t('operator.newKey')}</button>
    </form>
    ${secret ? html`<div class="secret" role="status"><p>${t('operator.secret')}</p>
      <code data-testid="new-secret">${secret}</code> <${CopyButton} text=${secret} /></div>` : null}
  </li>`;
}

// -------------------------------------------------------------------------------------- app --

function App() {
  const route = useRoute();
  const [, setLang] = useState(currentLanguage());
  const [who, setWho] = useState(session.get());
  const signedIn = (s) => {
    session.set(s);
    setWho(s);
    go(s.factoryKey ? '/batches' : (s.user && s.user.roles.includes('KOC') ? '/polls' : '/operator'));
  };
  const signOut = async () => {
    const s = session.get();
    if (s && s.refreshToken) await gql('ConsoleLogout', { refreshToken: s.refreshToken });
    session.set(null);
    setWho(null);
    go('/');
  };
  const toggle = async () => setLang(await loadLanguage(currentLanguage() === 'en' ? 'zh-CN' : 'en'));
  const langButton = html`<button class="secondary" onClick=${toggle}>${t('nav.language')}</button>`;
  if (!who) return html`<div><header class="top"><strong>${t('app.title')}</strong>${langButton}</header>
    <${SignIn} onSignedIn=${signedIn} /></div>`;
  const roles = (who.user && who.user.roles) || [];
  const koc = roles.includes('KOC');
  const operator = roles.includes('OPERATOR');
  if (!who.factoryKey && !koc && !operator) {
    return html`<main id="main" class="signin"><p role="alert">${t('signin.notAllowed')}</p>
      <button onClick=${signOut}>${t('nav.signout')}</button></main>`;
  }
  const tabs = who.factoryKey
    ? [['batches', t('nav.batches')]]
    : [
        ...(koc || operator ? [['communities', t('nav.communities')], ['polls', t('nav.polls')], ['drops', t('nav.drops')]] : []),
        ...(operator ? [['operator', t('nav.operator')]] : []),
      ];
  const current = route[0] || tabs[0][0];
  const screens = { communities: Communities, polls: Polls, drops: Drops, batches: Batches, operator: Operator };
  const Screen = screens[current] && tabs.some(([k]) => k === current) ? screens[current] : screens[tabs[0][0]];
  return html`<div>
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById('main').focus(); }}>Skip</a>
    <header class="top">
      <strong>${t('app.title')}</strong>
      <span class="who">${who.factory ? who.factory.name : who.user.displayName}</span>
      ${langButton}
      <button class="secondary" onClick=${signOut}>${t('nav.signout')}</button>
    </header>
    <nav aria-label="main">
      ${tabs.map(([k, label]) => html`<a href=${`#/${k}`} aria-current=${k === current ? 'page' : undefined}>${label}</a>`)}
    </nav>
    <main id="main" tabindex="-1"><${Screen} path=${route.length ? route : [current]} /></main>
  </div>`;
}

async function start() {
  await Promise.all([loadManifest(), loadLanguage(savedLanguage())]);
  const root = document.getElementById('app');
  root.textContent = '';
  render(html`<${App} />`, root);
}

start();
