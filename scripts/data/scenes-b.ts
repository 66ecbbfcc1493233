/**
 * Scenes for the DialogSum-style set, part two (plans, people, school and leisure).
 */
import { a, cap } from './world';
import type { Scene } from './scenes-a';

const weekend: Scene = {
  topic: 'weekend plans',
  make: (c) => {
    const name = c.v(...c.p.name), [p1, p2] = [c.v(...c.p.place), ''];
    const alt = c.v(...c.p.place.filter((x) => x !== p1)), day = c.v('Saturday', 'Sunday'), t = c.time(), agree = c.r() < 0.5;
    return {
      lines: [
        c.v(`${name}, do you have any plans for ${day}?`, `Hi ${name}! Are you free this ${day}?`),
        `Not really. Why?`,
        `I'm thinking of going to ${p1}${p2}. Would you like to come?`,
        agree ? c.v(`Sure, I'd love to.`, `That sounds great!`) : `I went there last week. How about ${alt} instead?`,
        agree ? `Let's meet at ${t} then.` : `Good idea. ${cap(alt)} it is. Shall we meet at ${t}?`,
        c.v(`OK, see you then.`, `Fine. I'll be there on time.`),
      ],
      summary: agree
        ? `#Person1# invites ${name} to go to ${p1} on ${day}. They will meet at ${t}.`
        : `#Person1# invites ${name} to ${p1} on ${day}, but ${name} suggests ${alt} instead. They will meet at ${t}.`,
    };
  },
};

const invitation: Scene = {
  topic: 'invitation',
  make: (c) => {
    const name = c.v(...c.p.name), ev = c.v(...c.p.event), day = c.v(...c.p.day), t = c.time(), comes = c.r() < 0.6;
    const bring = c.v(...c.p.drink, ...c.p.dish);
    return {
      lines: [
        `${name}, I'm having ${a(ev)} on ${day}. Can you come?`,
        comes ? c.v(`Of course! What time does it start?`, `I'd be glad to. When is it?`) : `I'm afraid I can't. I have to visit my ${c.v(...c.p.relative)} that day.`,
        comes ? `At ${t}.` : `That's a pity. Maybe next time.`,
        comes ? `Should I bring anything?` : `Please have fun without me. Say hello to everyone.`,
        comes ? `Maybe some ${bring}, if you like.` : `I will. Take care.`,
      ],
      summary: comes
        ? `#Person1# invites ${name} to ${a(ev)} on ${day} at ${t}. ${name} will come and bring some ${bring}.`
        : `#Person1# invites ${name} to ${a(ev)} on ${day}, but ${name} can't come because of a family visit.`,
    };
  },
};

const exam: Scene = {
  topic: 'school',
  make: (c) => {
    const name = c.v(...c.p.name), subj = c.v(...c.p.subject), score = c.price(40, 95), day = c.v(...c.p.day), passed = score >= 60;
    return {
      lines: [
        c.v(`${name}, how did your ${subj} exam go?`, `Hi ${name}. Did you get your ${subj} results?`),
        `I got ${score} points.`,
        passed ? c.v(`That's not bad at all! You worked hard.`, `Well done!`) : `Oh no. That's below the pass mark, isn't it?`,
        passed ? `Thanks. I studied every evening.` : `Yes. I have to take it again next ${day}.`,
        passed ? `Let's celebrate this weekend.` : `Don't worry. I can help you study ${subj}.`,
        passed ? `Good idea!` : `Really? Thank you so much.`,
      ],
      summary: passed
        ? `${name} got ${score} points in the ${subj} exam and passed. #Person1# suggests celebrating.`
        : `${name} got ${score} points in ${subj} and must retake it next ${day}. #Person1# offers to help ${name} study.`,
    };
  },
};

const pets: Scene = {
  topic: 'pet',
  make: (c) => {
    const pet = c.v(...c.p.pet), name = c.v(...c.p.name), age = c.count(), fee = c.price(20, 150), adopt = c.r() < 0.6;
    return {
      lines: [
        `I'd like to adopt a ${pet}.`,
        `We have a lovely one called ${name}. It's ${age} months old.`,
        `Is it healthy?`,
        `Yes, it has had all its checks. The fee is ${fee} dollars.`,
        adopt ? `I'll take ${name} home today.` : `I need to ask my landlord first. I'll come back later.`,
        adopt ? `Wonderful. Here's some food to start with.` : `Sure, we will keep ${name} for a few days.`,
      ],
      summary: adopt
        ? `#Person1# adopts a ${age}-month-old ${pet} named ${name} for ${fee} dollars.`
        : `#Person1# wants to adopt a ${pet} called ${name} but must ask the landlord first.`,
    };
  },
};

const gym: Scene = {
  topic: 'sports',
  make: (c) => {
    const sport = c.v(...c.p.sport), fee = c.price(20, 120), times = c.count(), joins = c.r() < 0.6;
    return {
      lines: [
        c.v(`I'm interested in your ${sport} classes.`, `Do you have ${sport} lessons here?`),
        `Yes, we have classes ${times} times a week.`,
        `How much is a monthly membership?`,
        `${fee} dollars a month.`,
        joins ? c.v(`I'll sign up today.`, `Great, I'd like to join.`) : `That's more than I expected. I'll think about it.`,
        joins ? `Please fill in this form. Your first class is tomorrow.` : `Sure, here is a brochure.`,
      ],
      summary: joins
        ? `#Person1# joins the ${sport} class, which meets ${times} times a week and costs ${fee} dollars a month.`
        : `#Person1# asks about ${sport} classes but finds ${fee} dollars a month too expensive and will think about it.`,
    };
  },
};

const lost: Scene = {
  topic: 'lost and found',
  make: (c) => {
    const item = c.v(...c.p.item, 'wallet', 'phone'), color = c.v(...c.p.color), place = c.v(...c.p.place), found = c.r() < 0.5;
    return {
      lines: [
        `I lost my ${item} at ${place} this morning.`,
        `What does it look like?`,
        `It's ${color}, with my name on it.`,
        found ? `Let me check. Is this it?` : `Nothing like that has been handed in yet.`,
        found ? `Yes! Thank you so much.` : `Could you call me if someone finds it?`,
        found ? `Please sign here to collect it.` : `Of course. Leave your number here.`,
      ],
      summary: found
        ? `#Person1# lost a ${color} ${item} at ${place}. #Person2# finds it and #Person1# collects it.`
        : `#Person1# lost a ${color} ${item} at ${place}. It hasn't been found, so #Person2# will call #Person1#.`,
    };
  },
};

const message: Scene = {
  topic: 'phone message',
  make: (c) => {
    const [n1, n2] = [c.v(...c.p.name), c.v(...c.p.name)], t = c.time(), day = c.v(...c.p.day);
    const about = c.v('the meeting', 'the contract', 'the report', 'the party');
    return {
      lines: [
        `Hello, may I speak to ${n2}?`,
        `I'm sorry, ${n2} is out right now. Can I take a message?`,
        `Yes, this is ${n1}. Please tell ${n2} that ${about} is moved to ${day} at ${t}.`,
        `${cap(about)} is on ${day} at ${t}. Got it.`,
        c.v(`And ask ${n2} to call me back.`, `Thanks. ${n2} can call me tonight.`),
        `I'll tell ${n2} as soon as possible.`,
      ],
      summary: `${n1} calls ${n2}, who is out. #Person2# takes a message that ${about} is moved to ${day} at ${t}.`,
    };
  },
};

const car: Scene = {
  topic: 'car rental',
  make: (c) => {
    const days = c.count(), price = c.price(25, 120), city = c.v(...c.p.city), size = c.v('small', 'large', 'family');
    const ins = c.r() < 0.5;
    return {
      lines: [
        `I'd like to rent a ${size} car for ${days} days.`,
        `Where will you drive?`,
        `To ${city} and back.`,
        `A ${size} car is ${price} dollars a day. Would you like insurance?`,
        ins ? `Yes, please add it.` : `No, my credit card covers it.`,
        `Fine. Please show me your driving license.`,
      ],
      summary: `#Person1# rents a ${size} car for ${days} days at ${price} dollars a day to drive to ${city}, ${ins ? 'with' : 'without'} insurance.`,
    };
  },
};

const haircut: Scene = {
  topic: 'haircut',
  make: (c) => {
    const style = c.v('short', 'a little shorter', 'short on the sides', 'trimmed'), price = c.price(15, 60), color = c.v(...c.p.color);
    const dye = c.r() < 0.4;
    return {
      lines: [
        `How would you like your hair today?`,
        `${cap(style)}, please.`,
        `Would you like a wash as well?`,
        dye ? `Yes, and could you dye it ${color}?` : `No, thanks. Just the cut.`,
        dye ? `Sure. That will be ${price} dollars in total.` : `OK. That will be ${price} dollars.`,
        c.v(`That's fine.`, `Great, let's start.`),
      ],
      summary: dye
        ? `#Person2# wants a haircut, ${style}, and the hair dyed ${color}. It costs ${price} dollars.`
        : `#Person2# gets a haircut, ${style}, for ${price} dollars.`,
    };
  },
};

const library: Scene = {
  topic: 'library',
  make: (c) => {
    const subj = c.v(...c.p.subject), n = c.count(), weeks = c.count(), name = c.v(...c.p.name);
    return {
      lines: [
        `I'd like to borrow some books about ${subj}.`,
        `They are on the second floor. How many do you need?`,
        `${n}. How long can I keep them?`,
        `${weeks} weeks. May I see your library card?`,
        `Here it is. My name is ${name}.`,
        `Thank you, ${name}. Please return them on time.`,
      ],
      summary: `${name} borrows ${n} books about ${subj} from the library and can keep them for ${weeks} weeks.`,
    };
  },
};

const family: Scene = {
  topic: 'family',
  make: (c) => {
    const rel = c.v(...c.p.relative), city = c.v(...c.p.city), days = c.count(), gift = c.v(...c.p.item);
    return {
      lines: [
        `My ${rel} is coming from ${city} next week.`,
        `How nice! How long will your ${rel} stay?`,
        `${days} days. I want to buy a present.`,
        `What about ${a(gift)}?`,
        c.v(`Good idea. I'll buy one tomorrow.`, `Perfect, my ${rel} needs one.`),
      ],
      summary: `#Person1#'s ${rel} is coming from ${city} for ${days} days. #Person2# suggests ${a(gift)} as a present, and #Person1# agrees.`,
    };
  },
};

const neighbor: Scene = {
  topic: 'complaint',
  make: (c) => {
    const t = c.time(), what = c.v('loud music', 'a barking dog', 'a party', 'loud footsteps'), promise = c.r() < 0.6;
    return {
      lines: [
        `Excuse me, I live downstairs. There was ${what} in your flat last night until ${t}.`,
        promise ? `I'm so sorry. I didn't know it was that loud.` : `Really? I didn't hear anything.`,
        `I have to get up early for work.`,
        promise ? `It won't happen again, I promise.` : `Well, I'll see what I can do.`,
        c.v(`Thank you.`, `I'd appreciate it.`),
      ],
      summary: promise
        ? `#Person1# complains to #Person2# about ${what} until ${t}. #Person2# apologizes and promises it won't happen again.`
        : `#Person1# complains about ${what} until ${t}, but #Person2# didn't notice it and only says #Person2# will see what to do.`,
    };
  },
};

export const SCENES_B: Scene[] = [weekend, invitation, exam, pets, gym, lost, message, car, haircut, library, family, neighbor];
