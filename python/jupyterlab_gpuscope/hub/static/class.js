// The instructor's view of the class: drawn from the service's api/class, refreshed every
// 15 s; each action asks for confirmation first. Built with DOM calls only (no HTML
// strings), since names and notebook paths come from students.
'use strict';

(function () {
  const REFRESH_MS = 15000;
  const base = window.location.pathname.replace(/\/?$/, '/');
  const xsrf = document.querySelector('meta[name="gpuscope-xsrf"]').content;
  const status = document.getElementById('status');
  const dialog = document.getElementById('confirm');
  let busy = false;

  function gib(bytes) {
    return bytes === null || bytes === undefined ? '—' : `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  }

  function minutes(seconds) {
    if (!seconds) return '—';
    return seconds < 60 ? `${Math.round(seconds)} s` : `${Math.round(seconds / 60)} min`;
  }

  function cell(row, text, className) {
    const td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function button(parent, label, description, onClick, warn) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.setAttribute('aria-label', description);
    b.title = description;
    if (warn) b.className = 'warn';
    b.addEventListener('click', onClick);
    parent.appendChild(b);
    return b;
  }

  function where(kernel) {
    const gpu = `${kernel.node} GPU ${kernel.gpu}`;
    return kernel.mig_profile ? `${gpu} (MIG ${kernel.mig_profile})` : gpu;
  }

  function kernelName(kernel) {
    return kernel.notebook || kernel.kernel_name || `kernel ${kernel.kernel}`;
  }

  function confirmAction(title, text, withNote) {
    return new Promise(resolve => {
      document.getElementById('confirm-title').textContent = title;
      document.getElementById('confirm-text').textContent = text;
      const note = document.getElementById('note');
      note.value = '';
      note.hidden = !withNote;
      document.getElementById('note-label').hidden = !withNote;
      document.getElementById('confirm-button').textContent = title;
      dialog.addEventListener(
        'close',
        () => resolve(dialog.returnValue === 'confirm' ? { note: note.value } : null),
        { once: true }
      );
      dialog.showModal();
    });
  }

  async function act(body, title, text, withNote) {
    const answer = await confirmAction(title, text, withNote);
    if (!answer) {
      status.textContent = 'Cancelled.';
      return;
    }
    status.textContent = `${title}…`;
    try {
      const response = await fetch(`${base}api/actions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-XSRFToken': xsrf },
        body: JSON.stringify({ ...body, note: answer.note })
      });
      const reply = await response.json();
      status.textContent = response.ok ? `Done: ${reply.done}.` : `Failed: ${reply.message}`;
    } catch (error) {
      status.textContent = `Failed: ${error.message}`;
    }
    refresh();
  }

  function drawStudents(view) {
    const body = document.querySelector('#students tbody');
    body.replaceChildren();
    for (const student of view.students) {
      const row = document.createElement('tr');
      const name = document.createElement('th');
      name.scope = 'row';
      name.textContent = student.user + (student.reporting ? '' : ' (no readings)');
      row.appendChild(name);
      cell(row, gib(student.memory), 'number');
      cell(row, gib(student.peak), 'number');
      const near = student.limit_used !== null && student.limit_used >= 0.9;
      cell(
        row,
        student.limit === null
          ? 'none'
          : `${gib(student.limit)} (${Math.round(student.limit_used * 100)} % used)`,
        near ? 'number over' : 'number'
      );
      cell(
        row,
        student.sm_utilization === null ? '—' : `${Math.round(student.sm_utilization * 100)} %`,
        'number'
      );
      cell(row, minutes(student.idle_holding_seconds), 'number');
      const kernels = cell(row, '');
      const actions = cell(row, '');
      for (const kernel of student.kernels) {
        const line = document.createElement('div');
        const idle = kernel.idle_seconds ? `, idle ${minutes(kernel.idle_seconds)}` : ', running';
        line.textContent = `${kernelName(kernel)}: ${gib(kernel.memory)} on ${where(kernel)}${idle}`;
        kernels.appendChild(line);
        const target = { user: student.user, server: kernel.server, kernel: kernel.kernel };
        const label = `${kernelName(kernel)} of ${student.user}`;
        button(actions, 'Nudge', `Nudge ${student.user} about ${label}`, () =>
          act(
            { action: 'nudge', ...target },
            'Nudge',
            `Ask ${student.user} to free the GPU memory of ${label} (${gib(kernel.memory)}).`,
            true
          )
        );
        button(
          actions,
          'Shut down kernel',
          `Shut down kernel (${kernelName(kernel)}) of ${student.user}`,
          () =>
            act(
              { action: 'shut_down_kernel', ...target },
              'Shut down kernel',
              `Shut down ${label}? Its variables are lost; ${student.user} is told who did it.`,
              false
            ),
          true
        );
      }
      for (const server of student.servers) {
        const label = server
          ? `server ${server} of ${student.user}`
          : `the server of ${student.user}`;
        button(
          actions,
          'Stop server',
          server ? `Stop server ${server} of ${student.user}` : `Stop server of ${student.user}`,
          () =>
            act(
              { action: 'stop_server', user: student.user, server },
              'Stop server',
              `Stop ${label}? Unsaved work in it is lost.`,
              false
            ),
          true
        );
      }
      body.appendChild(row);
    }
    if (!view.students.length) {
      const row = document.createElement('tr');
      cell(row, 'No student has a running server.').colSpan = 8;
      body.appendChild(row);
    }
  }

  function drawGPUs(view) {
    const body = document.querySelector('#gpus tbody');
    body.replaceChildren();
    for (const gpu of view.gpus) {
      const places = gpu.instances.length
        ? gpu.instances.map(i => ({
            label: `GPU ${gpu.gpu} MIG ${i.mig_profile || i.mig_instance}`,
            ...i
          }))
        : [{ label: `GPU ${gpu.gpu} ${gpu.name}`, ...gpu }];
      for (const place of places) {
        const row = document.createElement('tr');
        cell(row, gpu.node);
        cell(row, place.label + (gpu.live ? '' : ` (${gpu.backend} readings)`));
        cell(row, `${gib(place.free)} of ${gib(place.memory_total)}`, 'number');
        cell(row, place.students.join(', ') || '—');
        cell(row, (gpu.instances.length ? [] : gpu.idle_students).join(', ') || '—');
        body.appendChild(row);
      }
    }
  }

  function drawSizing(view) {
    const list = document.getElementById('sizing');
    list.replaceChildren();
    for (const line of view.right_sizing) {
      const item = document.createElement('li');
      const above = line.above.length
        ? `; ${line.above.length} peaked above it: ${line.above.join(', ')}`
        : '';
      item.textContent = `${line.size} (${gib(line.bytes)}) fits ${line.fits} of ${line.of} students${above}.`;
      list.appendChild(item);
    }
    if (!view.right_sizing.length) {
      const item = document.createElement('li');
      item.textContent = 'No readings yet to size from.';
      list.appendChild(item);
    }
    const note = document.createElement('li');
    note.textContent = `Peaks are over the last ${view.peak_window}, per GPU or MIG instance.`;
    list.appendChild(note);
  }

  function drawLog(view) {
    const rules = Object.entries(view.idle_rules);
    document.getElementById('policy').textContent = rules.length
      ? 'Idle policy: ' +
        rules
          .map(
            ([role, r]) =>
              `${role}: nudge after ${r.nudge_minutes} min idle${r.shutdown_minutes ? `, shut down after ${r.shutdown_minutes} min` : ''}`
          )
          .join('; ') +
        '.'
      : 'No idle policy: kernels are shut down only when you ask.';
    const list = document.getElementById('log');
    list.replaceChildren();
    for (const entry of view.actions.slice().reverse()) {
      const item = document.createElement('li');
      const when = new Date(entry.at * 1000).toLocaleTimeString();
      item.textContent = `${when}: ${entry.by}: ${entry.outcome === 'done' ? entry.detail : `${entry.action} for ${entry.user} failed: ${entry.detail}`}`;
      list.appendChild(item);
    }
  }

  async function refresh() {
    if (busy) return;
    busy = true;
    try {
      const response = await fetch(`${base}api/class`, {
        headers: { Accept: 'application/json', 'X-XSRFToken': xsrf }
      });
      const view = await response.json();
      if (!response.ok) throw new Error(view.message || response.statusText);
      const source = document.getElementById('source');
      source.hidden = view.live;
      source.textContent = view.live
        ? ''
        : `Not live GPU readings: some servers report from ${view.backends.join(', ') || 'no GPU'}.`;
      drawStudents(view);
      drawGPUs(view);
      drawSizing(view);
      drawLog(view);
      if (!status.textContent.startsWith('Done') && !status.textContent.startsWith('Failed')) {
        status.textContent = `Updated ${new Date(view.generated_at * 1000).toLocaleTimeString()}.`;
      }
    } catch (error) {
      status.textContent = `The class view could not be loaded: ${error.message}`;
    } finally {
      busy = false;
    }
  }

  refresh();
  setInterval(refresh, REFRESH_MS);
})();
