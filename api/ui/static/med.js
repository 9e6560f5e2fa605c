// The printable MED 2.0 request: /ui/med.html?anel=<ring id> or ?transacao=<transaction id>. Fetches
// /v1/med/... with the bearer token of the investigator page (sessionStorage) and renders it for printing.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const kind = params.has("anel") ? "anel" : "transacao";
  const ident = params.get(kind) || "";
  const path = "/v1/med/" + kind + "/" + encodeURIComponent(ident);
  const tokenInput = $("token");
  tokenInput.value = sessionStorage.getItem("pixring-token") || "";
  const money = (v) => Number(v || 0).toLocaleString("pt-BR", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

  function status(text, isError) { const s = $("status"); s.textContent = text; s.className = isError ? "error" : ""; }

  async function get(fmt) {
    const res = await fetch(path + (fmt ? "?formato=" + fmt : ""), { headers: { Authorization: "Bearer " + tokenInput.value } });
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      throw new Error((body.title || res.status) + (body.detail ? ": " + body.detail : ""));
    }
    return fmt ? res.text() : res.json();
  }

  function render(m) {
    const hops = m.por_hop.map((h) => `<tr><td>${h.hop}</td><td class="num">${h.contas}</td><td class="num">${money(h.recebido)}</td>` +
      `<td class="num">${money(h.recuperavel)}</td></tr>`).join("");
    const contas = m.contas.map((c) => `<tr><td>${c.hop}</td><td class="${c.membro_anel ? "member" : ""}">${esc(c.id_usuario)}</td>` +
      `<td>${c.caminho.map(esc).join(" → ")}</td><td class="num">${money(c.recebido)}</td><td class="num">${money(c.repassado)}</td>` +
      `<td class="num">${money(c.saiu_sem_rastreio)}</td><td class="num">${money(c.recuperavel)}</td></tr>`).join("");
    const origem = m.transacoes_origem.map((t) => `<tr><td>${esc(t.id_transacao)}</td><td>${esc(t.timestamp)}</td>` +
      `<td>${esc(t.de)}</td><td>${esc(t.para)}</td><td class="num">${money(t.valor)}</td></tr>`).join("");
    $("doc").innerHTML =
      `<h1>Pedido de devolução MED 2.0 — ${kind === "anel" ? "anel" : "transação"} ${esc(m.id)}</h1>` +
      `<p class="meta">gerado em ${esc(m.gerado_em)} UTC · janela por salto ${m.janela_horas} h · até ${m.max_hops} saltos` +
      `${m.truncado ? " · <strong>rastreio truncado</strong>" : ""}</p>` +
      `<p>Valor contestado <strong>R$ ${money(m.valor_contestado)}</strong> · valor recuperável (bloqueável) ` +
      `<strong>R$ ${money(m.valor_recuperavel)}</strong></p>` +
      `<h2>Transações contestadas</h2><table><thead><tr><th>transação</th><th>quando (UTC)</th><th>de</th><th>para</th>` +
      `<th class="num">valor (R$)</th></tr></thead><tbody>${origem}</tbody></table>` +
      `<h2>Por salto</h2><table><thead><tr><th>salto</th><th class="num">contas</th><th class="num">recebido (R$)</th>` +
      `<th class="num">recuperável (R$)</th></tr></thead><tbody>${hops}</tbody>` +
      `<tfoot><tr><td>total</td><td></td><td></td><td class="num">${money(m.valor_recuperavel)}</td></tr></tfoot></table>` +
      `<h2>Contas a bloquear</h2><table><thead><tr><th>salto</th><th>conta</th><th>caminho</th><th class="num">recebido</th>` +
      `<th class="num">repassado no rastreio</th><th class="num">saiu sem rastreio</th><th class="num">recuperável</th></tr></thead>` +
      `<tbody>${contas}</tbody></table>` +
      `<p class="meta">Em negrito: membros do anel. Recebido = repassado + saiu sem rastreio + recuperável, por conta.</p>`;
    window.pixringMed = m; // for the end-to-end test
  }

  async function load() {
    sessionStorage.setItem("pixring-token", tokenInput.value);
    if (!ident) { status("abra med.html?anel=<id> ou ?transacao=<id>", true); return; }
    status("carregando…");
    try { render(await get()); status(""); } catch (err) { status(err.message, true); }
  }

  $("load").addEventListener("click", load);
  $("print").addEventListener("click", () => window.print());
  $("csv").addEventListener("click", async (ev) => {
    ev.preventDefault();
    try {
      const blob = new Blob([await get("csv")], { type: "text/csv" });
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = "med-" + ident + ".csv";
      a.click();
    } catch (err) { status(err.message, true); }
  });
  if (tokenInput.value) load();
})();
